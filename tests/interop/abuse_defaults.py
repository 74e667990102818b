"""Phases G and H of test_broker_abuse.sh, against a broker with the default limits (PORT2, P from the
environment; loopback only, bounded in count and time).
  G. 1,100 silent TCP connections from 127.0.0.1, reopened as the broker closes them, while 15 clients from
     127.0.0.2 connect one after another: every one gets CONNACK (the per-address limit on connections that
     have not spoken closes the attacker's oldest, never newcomers from elsewhere).
  H. 100 retained messages of 250 KB (25 MB, three times the per-connection write cap) under sensors/: a
     subscriber to sensors/# that reads gets all 100, at QoS 0 and at QoS 1."""
import os, selectors, socket, sys, threading, time

sys.path.insert(0, os.path.join(os.environ["MQTTPKI_SOURCE_DIR"], "bench"))
from mqtt_bench_client import Conn, make_ctx, rl, s16  # noqa: E402  (the MQTT encoding, TLS client)

PORT = int(os.environ["PORT2"])
PHASES = os.environ.get("PHASES", "GH")  # H alone against Mosquitto, the reference
P = os.environ["P"]
CTX = make_ctx(f"{P}/pki/ca.crt", f"{P}/good/good.crt", f"{P}/good/good.key")
ATTACKER, GOOD = "127.0.0.1", "127.0.0.2"
fails = []
T0 = time.monotonic()


def check(cond, msg):
    print(f"[{time.monotonic() - T0:6.2f}s] " + ("ok   " if cond else "FAIL ") + msg, flush=True)
    if not cond:
        fails.append(msg)


def packet(first, body):
    return bytes([first]) + rl(len(body)) + body


def client(cid):
    return Conn("127.0.0.1", PORT, CTX, cid, source=GOOD)


# G. silent sockets from one address, reopened as they drop
stop = threading.Event()
stats = {"opened": 0, "closed_by_broker": 0, "held_max": 0}


def attacker():
    sel = selectors.DefaultSelector()
    held = 0
    while not stop.is_set():
        burst = 0
        while held < 1100 and burst < 50 and not stop.is_set():  # reopening bounded to ~2,500/s
            burst += 1
            try:
                s = socket.create_connection(("127.0.0.1", PORT), timeout=2, source_address=(ATTACKER, 0))
            except OSError:
                time.sleep(0.01)
                break
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            held += 1
            stats["opened"] += 1
            stats["held_max"] = max(stats["held_max"], held)
        time.sleep(0.02)
        for key, _ in sel.select(timeout=0):
            s = key.fileobj
            try:
                if s.recv(4096):
                    continue
            except BlockingIOError:
                continue
            except OSError:
                pass
            sel.unregister(s)
            s.close()
            held -= 1
            stats["closed_by_broker"] += 1
    for key in list(sel.get_map().values()):
        key.fileobj.close()


if "G" in PHASES:
    t = threading.Thread(target=attacker, daemon=True)
    t.start()
    time.sleep(2.0)  # the flood is established
    ok, slowest = 0, 0.0
    for i in range(15):
        start = time.monotonic()
        try:
            client(f"good-{i}").s.close()
            ok += 1
            slowest = max(slowest, time.monotonic() - start)
        except (Exception, SystemExit) as e:  # Conn exits on a refused CONNACK
            print(f"client {i} failed: {e!r}", flush=True)
        time.sleep(0.3)
    stop.set()
    t.join(10)
    check(stats["opened"] > 1100, f"G: the attacker opened {stats['opened']} silent connections (held up to "
          f"{stats['held_max']}), {stats['closed_by_broker']} closed by the broker")
    check(ok == 15, f"G: {ok}/15 clients from another address got CONNACK during the flood (slowest {slowest:.2f}s)")

# H. a retained burst three times the per-connection write cap
if "H" in PHASES:
    pub = client("retainer")
    payload = os.urandom(250 * 1000)
    for i in range(100):
        pub.s.sendall(packet(0x33, s16(f"sensors/{i}".encode()) + (i + 1).to_bytes(2, "big") + payload))
        h, _ = pub.read_packet()
        assert h == 0x40, f"PUBACK expected, got {h:#x}"
    pub.s.close()
    for qos in (0, 1):
        sub = client(f"burst-{qos}")
        sub.s.sendall(packet(0x82, b"\x00\x01" + s16(b"sensors/#") + bytes([qos])))
        got, size_ok = set(), True
        try:
            while len(got) < 100:
                h, body = sub.read_packet()
                if h & 0xF0 != 0x30:
                    continue
                n = int.from_bytes(body[:2], "big")
                got.add(body[2:2 + n].decode())
                size_ok = size_ok and body[2 + n + (2 if qos else 0):] == payload
                if qos:
                    sub.s.sendall(b"\x40\x02" + body[2 + n:4 + n])
        except Exception as e:
            print(f"H: reading stopped: {e!r}", flush=True)
        check(len(got) == 100 and size_ok, f"H: subscriber at QoS {qos} got {len(got)}/100 retained messages of 250 KB")
        sub.s.close()
sys.exit(1 if fails else 0)
