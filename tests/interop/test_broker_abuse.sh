#!/bin/bash
# Our broker under abuse, on 127.0.0.1 only, bounded in count (about 3,000 sockets) and time (about 40 s):
#   A. 200 TCP connections that never send a byte, 50 half-open TLS handshakes (ClientHello, then
#      silence) and 20 TLS connections with a valid client certificate that never send CONNECT, all held
#      open at once (270 < --max-connections 300), while a good client still completes a round trip;
#   B. 2,700 more silent TCP connections on top: those over the limit are closed at once, and every silent
#      or half-open connection is closed within the handshake / CONNECT timeout (10 s defaults; the
#      broker command does not expose them) plus slack;
#   C. bad first bytes: plain TCP bytes to the TLS port; over TLS with a valid client certificate, an
#      oversized remaining length (0xFF 0xFF 0xFF 0xFF 0x7F) before and after CONNECT, a declared 256 MiB
#      PUBLISH, and non-CONNECT first packets (PINGREQ, SUBSCRIBE): each closed within 2 s;
#   D. a SUBSCRIBE flood (3,000 packets in one burst): 1,000 granted (max_subscriptions_per_client),
#      the rest answered 0x80;
#   E. slow readers that never read (tiny receive buffers), subscribed at QoS 1 and at QoS 0, while a
#      publisher sends a 3,000 x 8 KiB QoS 1 backlog: the publisher gets every PUBACK, the QoS 0 reader is
#      dropped at the write-queue limit, the QoS 1 reader's session queue stops at max_queued_messages;
#   F. subscribers reset (SO_LINGER 0) while the broker writes to them: dropped, the broker stays up.
# Phases A-F hold hundreds of silent sockets from one address on purpose, so that broker runs with
# --max-handshakes-per-address above --max-connections. A second broker, with the default limits, then
# faces phases G (silent sockets from one address, reopened as they drop, while clients from another
# address connect) and H (a retained burst three times the write cap): see tests/interop/abuse_defaults.py.
# Throughout: the broker process is alive, and its VmRSS stays under a bound derived from the limits
# (see RSS_BOUND below); after each phase a good client (mosquitto_pub/sub, else mqttpki pub/sub) with
# its certificate completes a publish -> receive round trip.
. "$MQTTPKI_SOURCE_DIR/tests/lib.sh"
. "$MQTTPKI_SOURCE_DIR/tests/interop/pki_fixture.sh"
"$PYTHON" -c 'import ssl, selectors' 2>/dev/null || skip "python3 with ssl needed"
[ "$(ulimit -n)" -ge 4096 ] || ulimit -n 4096 2>/dev/null || skip "needs 4096 file descriptors (ulimit -n)"

make_pki "$T/p" good abuser slow0 slow1 pubber flood
P=$T/p
MAXCONN=300
"$MQTTPKI" broker --port 0 --bind 127.0.0.1 --cafile "$P/pki/ca.crt" --certfile "$P/server/server.crt" \
  --keyfile "$P/server/server.key" --require-certificate --max-connections "$MAXCONN" \
  --max-handshakes-per-address 100000 >"$T/broker.out" 2>"$T/broker.log" &
BROKER_PID=$!
track_pid $BROKER_PID
PORT=""
for _ in $(seq 200); do
  PORT=$(listening_port "$T/broker.out")
  [ -n "$PORT" ] && break
  sleep 0.05
done
[ -n "$PORT" ] || { echo "broker did not start: $(cat "$T/broker.log")"; exit 1; }

cat >"$T/abuse.py" <<'EOF'
import os, selectors, shutil, socket, ssl, struct, subprocess, sys, threading, time

HOST = "127.0.0.1"  # loopback only
PORT = int(os.environ["PORT"])
PID = int(os.environ["BROKER_PID"])
P = os.environ["P"]
MAXCONN = int(os.environ["MAXCONN"])
MQTTPKI = os.environ["MQTTPKI"]
HANDSHAKE_TIMEOUT = 10.0  # BrokerOptions::handshake_timeout default
CONNECT_TIMEOUT = 10.0    # BrokerOptions::connect_timeout default (checked by a 1 s tick)
SLACK = 3.0
PAYLOAD = 8192
BACKLOG = 3000
fails = []
T0 = time.monotonic()

def log(msg):
    print(f"[{time.monotonic() - T0:6.2f}s] {msg}", flush=True)

def check(cond, msg):
    log(("ok   " if cond else "FAIL ") + msg)
    if not cond:
        fails.append(msg)

def rss_kib():
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1

def alive():
    try:
        with open(f"/proc/{PID}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False

# The bound, from the configured limits (all in KiB):
#   base RSS before any client (the binary, OpenSSL, the TLS context)
# + MAXCONN x 160 KiB: per connection its state, the SSL object with its read/write buffers while a
#   handshake or a record is in progress (~2 x 17 KiB) and the handshake's transient state; the
#   kernel-side accounting is not in RSS
# + the QoS 1 slow reader's session: (max_queued_messages 1000 + max_inflight 20) x PAYLOAD, counted
#   twice (queued message and encoded packet)
# + one write queue at its limit (8 MiB) for the QoS 0 slow reader before it is dropped
# + 32 MiB for the allocator's fragmentation and everything else
BASE = rss_kib()
RSS_BOUND = BASE + MAXCONN * 160 + 2 * 1020 * PAYLOAD // 1024 + 8 * 1024 + 32 * 1024
# Under sanitizers (MQTTPKI_SANITIZE from CMake) every allocation has redzones and AddressSanitizer keeps
# up to 256 MiB of freed memory in quarantine: triple the bound and add the quarantine.
SANITIZE = os.environ.get("MQTTPKI_SANITIZE", "").strip()
if SANITIZE and SANITIZE.upper() not in ("OFF", "0", "FALSE", "NO", "NONE"):
    RSS_BOUND = 3 * RSS_BOUND + 256 * 1024
peak = [BASE]

def sample(where):
    r = rss_kib()
    peak[0] = max(peak[0], r)
    check(alive(), f"broker alive ({where})")
    check(0 < r < RSS_BOUND, f"broker VmRSS {r} KiB < bound {RSS_BOUND} KiB ({where})")

def ctx(name):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.load_verify_locations(f"{P}/pki/ca.crt")
    c.load_cert_chain(f"{P}/{name}/{name}.crt", f"{P}/{name}/{name}.key")
    return c

def tls(name, rcvbuf=None, timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect((HOST, PORT))
    return ctx(name).wrap_socket(s, server_hostname="localhost")

# --- MQTT 3.1.1 encoding, just enough
def rl(n):
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)

def s16(b):
    return len(b).to_bytes(2, "big") + b

def connect(cid, keepalive=60):
    body = s16(b"MQTT") + b"\x04\x02" + keepalive.to_bytes(2, "big") + s16(cid.encode())
    return b"\x10" + rl(len(body)) + body

def subscribe(pid, topic, qos):
    body = pid.to_bytes(2, "big") + s16(topic.encode()) + bytes([qos])
    return b"\x82" + rl(len(body)) + body

def publish(topic, payload, qos, pid=0):
    body = s16(topic.encode()) + (pid.to_bytes(2, "big") if qos else b"") + payload
    return bytes([0x30 | (qos << 1)]) + rl(len(body)) + body

def read_packet(s):
    def exact(n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise EOFError("closed")
            buf += chunk
        return buf
    h = exact(1)[0]
    n, mul = 0, 1
    while True:
        b = exact(1)[0]
        n += (b & 0x7F) * mul
        mul *= 128
        if not b & 0x80:
            break
    return h, exact(n) if n else b""

def mqtt_client(name, cid, **kw):
    s = tls(name, **kw)
    s.sendall(connect(cid))
    h, body = read_packet(s)
    assert h == 0x20 and body[1] == 0, f"CONNACK {h:#x} {body!r}"
    return s

def closed_within(s, limit):
    """Seconds until the broker closes s (EOF or reset), or None if still open after limit."""
    start = time.monotonic()
    s.settimeout(0.2)
    while time.monotonic() - start < limit:
        try:
            if not s.recv(65536):
                return time.monotonic() - start
        except (socket.timeout, ssl.SSLWantReadError):
            continue
        except (ConnectionError, ssl.SSLError, OSError):
            return time.monotonic() - start
    return None

# --- a good client: mosquitto_sub/pub if installed, else ours; both take the same flags
def round_trip(where):
    sub_bin = shutil.which("mosquitto_sub") or None
    pub_bin = shutil.which("mosquitto_pub") or None
    tls_args = ["-h", HOST, "-p", str(PORT), "--cafile", f"{P}/pki/ca.crt",
                "--cert", f"{P}/good/good.crt", "--key", f"{P}/good/good.key"]
    topic = f"good/{time.monotonic_ns()}"
    if sub_bin and pub_bin:
        sub = ["stdbuf", "-oL", sub_bin, *tls_args, "-t", topic, "-C", "1", "-W", "10", "-q", "1", "-d"]
        pub = [pub_bin, *tls_args, "-t", topic, "-m", "ping", "-q", "1"]
    else:
        sub = [MQTTPKI, "sub", *tls_args, "-t", topic, "-C", "1", "-q", "1"]
        pub = [MQTTPKI, "pub", *tls_args, "-t", topic, "-m", "ping", "-q", "1"]
    start = time.monotonic()
    p = subprocess.Popen(sub, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, ready = [], False
    while not ready and time.monotonic() - start < 10:
        line = p.stdout.readline()
        if not line:
            break
        out.append(line)
        ready = "Subscribed (mid" in line or "subscribed to" in line
    ok = False
    if ready:
        r = subprocess.run(pub, capture_output=True, text=True, timeout=15)
        try:
            rest, _ = p.communicate(timeout=10)
            out.append(rest)
            ok = r.returncode == 0 and p.returncode == 0 and "ping" in "".join(out)
        except subprocess.TimeoutExpired:
            pass
    if p.poll() is None:
        p.kill()
        p.wait()
    check(ok, f"good client round trip in {time.monotonic() - start:.2f}s ({where})"
          + ("" if ok else ": " + "".join(out)[-600:]))

# ---------------------------------------------------------------------------------------------
log(f"broker pid {PID} port {PORT}: base VmRSS {BASE} KiB, bound {RSS_BOUND} KiB"
    + (f" (sanitizers: {SANITIZE})" if SANITIZE else ""))

class Watcher:
    """Watches sockets from the moment they are opened, in a thread, and notes when the broker closes each."""
    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.closed = []  # (kind, seconds open)
        self.open = 0
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
    def add(self, s, kind):
        s.setblocking(False)
        with self.lock:
            self.sel.register(s, selectors.EVENT_READ, (kind, time.monotonic()))
            self.open += 1
    def run(self):
        while not self.stop:
            with self.lock:
                events = self.sel.select(timeout=0.02) if self.open else []
                for key, _ in events:
                    s = key.fileobj
                    try:
                        if s.recv(65536):
                            continue  # a half-open handshake gets the server's flight; keep reading
                    except BlockingIOError:
                        continue
                    except OSError:
                        pass
                    kind, t = key.data
                    self.closed.append((kind, time.monotonic() - t))
                    self.sel.unregister(s)
                    self.open -= 1
                    s.close()
            if not events:
                time.sleep(0.01)
    def wait_all(self, limit):
        end = time.monotonic() + limit
        while self.open and time.monotonic() < end:
            time.sleep(0.1)
        return self.open
    def worst(self, kind):
        with self.lock:
            ts = [t for k, t in self.closed if k == kind]
        return (len(ts), max(ts) if ts else 0.0, min(ts) if ts else 0.0)

# A. silent TCP, half-open TLS, TLS without CONNECT: held open together, under the limit
w = Watcher()
for _ in range(200):
    w.add(socket.create_connection((HOST, PORT)), "silent TCP")
hs = ctx("abuser")
for _ in range(50):
    s = socket.create_connection((HOST, PORT))
    inc, outg = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = hs.wrap_bio(inc, outg, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    s.sendall(outg.read())  # the ClientHello, and then nothing
    w.add(s, "half-open TLS")
tls_idle = []
for _ in range(20):
    s = tls("abuser")
    tls_idle.append((s, time.monotonic()))
log(f"A: holding {w.open + len(tls_idle)} connections")
sample("A: 270 abusive connections held")
round_trip("A: 270 abusive connections held")
check(w.open == 250, f"A: the 250 silent and half-open connections are still held after the round trip ({w.open})")

# B. 2,700 more silent connections: over the limit they are closed at once
N_B = 2700
for _ in range(N_B):
    try:
        w.add(socket.create_connection((HOST, PORT), timeout=5), "silent TCP (B)")
    except OSError as e:
        log(f"connect failed: {e}")
sample(f"B: {270 + N_B} connections attempted")
time.sleep(2.0)
n, _, _ = w.worst("silent TCP (B)")
prompt = len([t for k, t in w.closed if k == "silent TCP (B)" and t < 2.0])
check(prompt >= N_B - (MAXCONN - 270) - 5,
      f"B: {prompt} of {N_B} connections over --max-connections {MAXCONN} closed within 2 s")
sample("B: waiting for timeouts")
check(w.wait_all(HANDSHAKE_TIMEOUT + SLACK) == 0, f"B: every silent / half-open connection closed by the broker")
for kind in ("silent TCP", "half-open TLS", "silent TCP (B)"):
    n, worst, first = w.worst(kind)
    check(worst <= HANDSHAKE_TIMEOUT + SLACK, f"B: {n} x {kind} closed after {first:.1f}..{worst:.1f}s "
          f"(handshake timeout {HANDSHAKE_TIMEOUT:.0f}s + {SLACK:.0f}s slack)")
late = []
for s, t in tls_idle:
    c = closed_within(s, max(0.1, CONNECT_TIMEOUT + 1.0 + SLACK - (time.monotonic() - t)))
    late.append(None if c is None else time.monotonic() - t)
    s.close()
check(None not in late, f"B: 20 x TLS without CONNECT closed after at most {max(x or 99 for x in late):.1f}s "
      f"(CONNECT timeout {CONNECT_TIMEOUT:.0f}s, 1 s tick, + {SLACK:.0f}s slack)")
w.stop = True
round_trip("B: after the timeouts")

# C. bad bytes
def bad(desc, first, after_connect=False, plain=False):
    try:
        if plain:
            s = socket.create_connection((HOST, PORT), timeout=5)
        elif after_connect:
            s = mqtt_client("abuser", f"bad-{time.monotonic_ns()}")
        else:
            s = tls("abuser")
        s.sendall(first)
        t = closed_within(s, 2.0)
        s.close()
        check(t is not None, f"C: {desc}: closed" + (f" after {t:.2f}s" if t is not None else " NOT within 2 s"))
    except Exception as e:  # a refusal during the handshake also counts as closed
        check(isinstance(e, (ConnectionError, ssl.SSLError)), f"C: {desc}: {e!r}")

OVERSIZE = b"\xff\xff\xff\xff\x7f"
bad("plain TCP bytes to the TLS port", b"\x10" + OVERSIZE, plain=True)
bad("oversized remaining length as the first packet", b"\x10" + OVERSIZE)
bad("oversized remaining length after CONNECT", b"\x30" + OVERSIZE, after_connect=True)
bad("a PUBLISH declaring 256 MiB after CONNECT", b"\x30\xff\xff\xff\x7f", after_connect=True)
bad("PINGREQ as the first packet", b"\xc0\x00")
bad("SUBSCRIBE as the first packet", subscribe(1, "a/b", 0))
sample("C: bad bytes")
round_trip("C: after bad bytes")

# D. SUBSCRIBE flood. One thread per TLS socket (an SSL object is not safe for a reader and a writer thread
# at once): send the whole burst, then read; the 3,000 SUBACKs (15 KB) fit in the socket buffers meanwhile.
N = 3000
s = mqtt_client("flood", "flood")
acks = {"granted": 0, "refused": 0}
start = time.monotonic()
s.sendall(b"".join(subscribe(i % 65535 + 1, f"flood/{i}/#", 1) for i in range(N)))
try:
    while acks["granted"] + acks["refused"] < N:
        h, body = read_packet(s)
        if h == 0x90:
            acks["granted" if body[2] != 0x80 else "refused"] += 1
except Exception as e:
    log(f"D: reading SUBACKs stopped: {e!r}")
check(acks == {"granted": 1000, "refused": N - 1000},
      f"D: {N} SUBSCRIBEs in {time.monotonic() - start:.2f}s: {acks} (max_subscriptions_per_client 1000)")
s.close()
sample("D: after the SUBSCRIBE flood")
round_trip("D: after the SUBSCRIBE flood")

# E. slow readers, never reading, with a backlog from a QoS 1 publisher
slow1 = mqtt_client("slow1", "slow1", rcvbuf=4096)
slow1.sendall(subscribe(1, "backlog/#", 1)); read_packet(slow1)
slow0 = mqtt_client("slow0", "slow0", rcvbuf=4096)
slow0.sendall(subscribe(1, "backlog/#", 0)); read_packet(slow0)
pub = mqtt_client("pubber", "pubber")
pubacks = [0]
start = time.monotonic()
payload = os.urandom(PAYLOAD)
# Send the whole backlog, then read the PUBACKs (3,000 x 4 bytes wait in the socket buffer meanwhile).
for i in range(BACKLOG):
    pub.sendall(publish("backlog/x", payload, 1, i % 65535 + 1))
    if i % 500 == 0:
        peak[0] = max(peak[0], rss_kib())
try:
    while pubacks[0] < BACKLOG:
        h, _ = read_packet(pub)
        if h == 0x40:
            pubacks[0] += 1
except Exception as e:
    log(f"E: reading PUBACKs stopped: {e!r}")
check(pubacks[0] == BACKLOG, f"E: publisher got {pubacks[0]}/{BACKLOG} PUBACKs in {time.monotonic() - start:.2f}s "
      f"({BACKLOG * PAYLOAD // 1024} KiB backlog)")
sample("E: slow readers with a backlog")
round_trip("E: slow readers still connected")
pub.close(); slow0.close(); slow1.close()
time.sleep(0.5)

# F. subscribers that vanish while the broker writes to them: each stops reading, then its socket is
# reset (SO_LINGER 0) while a publisher keeps their topic busy. The broker's writes then fail with
# EPIPE/ECONNRESET: it drops those connections and keeps serving (tests/unit/net/transport_test.cpp checks
# that such a write is an error rather than SIGPIPE even where SIGPIPE is not ignored).
pub = mqtt_client("pubber", "pubber-f")
chunk = os.urandom(16 * 1024)
for round_ in range(10):
    vanish = [mqtt_client("slow0", f"vanish-{round_}-{i}", rcvbuf=4096) for i in range(5)]
    for v in vanish:
        v.sendall(subscribe(1, "vanish/x", 0)); read_packet(v)
    for _ in range(20):
        pub.sendall(publish("vanish/x", chunk, 0))
    for v in vanish:
        v.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        v.close()
    for _ in range(50):
        pub.sendall(publish("vanish/x", chunk, 0))
check(alive(), "F: broker alive after writing to reset connections")
pub.close()
round_trip("F: after vanished subscribers")
sample("end")
log(f"peak VmRSS {peak[0]} KiB (base {BASE} KiB, bound {RSS_BOUND} KiB); {len(fails)} failures")
sys.exit(1 if fails else 0)
EOF

export PORT BROKER_PID P MAXCONN MQTTPKI
start=$(date +%s)
if timeout 120 "$PYTHON" "$T/abuse.py" >"$T/abuse.out" 2>&1; then pass; else fail "abuse script: $(grep -E 'FAIL|Error|Traceback' "$T/abuse.out" | head -n 20)"; fi
cat "$T/abuse.out"
echo "abuse phases took $(($(date +%s) - start)) s"
kill -0 "$BROKER_PID" 2>/dev/null && pass || fail "broker process died: $(tail -n 20 "$T/broker.log")"
expect_match "silent connections refused with a reason" "no TLS handshake within 10000 ms" "$T/broker.log"
expect_match "connections over the limit refused" "connections open \(raise max_connections\)" "$T/broker.log"
expect_match "TLS without CONNECT timed out" "no CONNECT within 10s" "$T/broker.log"
expect_match "non-CONNECT first packet named" "first packet was (PINGREQ|SUBSCRIBE), not CONNECT" "$T/broker.log"
expect_match "oversized length refused" "malformed packet" "$T/broker.log"
expect_match "subscription limit logged" "max_subscriptions_per_client=1000 reached" "$T/broker.log"
expect_match "QoS 0 slow reader dropped at the write-queue limit" "dropped, more than [0-9]+ bytes waiting" "$T/broker.log"
expect_match "QoS 1 slow reader's queue capped" "queue full \(max_queued_messages=1000\)" "$T/broker.log"

# G and H: a second broker with the default limits.
run_broker "$T/broker2" --cafile "$P/pki/ca.crt" --certfile "$P/server/server.crt" --keyfile "$P/server/server.key" \
  --require-certificate || exit 1
BROKER2_PID=$BROKER_PID
export PORT2=$BROKER_PORT
if timeout 120 "$PYTHON" "$MQTTPKI_SOURCE_DIR/tests/interop/abuse_defaults.py" >"$T/defaults.out" 2>&1; then
  pass
else
  fail "phases G-H: $(grep -E 'FAIL|Error|Traceback' "$T/defaults.out" | head -n 20)"
fi
cat "$T/defaults.out"
kill -0 "$BROKER2_PID" 2>/dev/null && pass || fail "second broker died: $(tail -n 20 "$T/broker2.log")"
expect_match "silent connections closed for newer ones" "max_handshakes_per_address" "$T/broker2.log"

# H against Mosquitto, the reference (when installed): it delivers the same retained burst.
if start_template_mosquitto "$P"; then
  if PORT2=$MOSQ_TLS PHASES=H timeout 60 "$PYTHON" "$MQTTPKI_SOURCE_DIR/tests/interop/abuse_defaults.py" \
    >"$T/mosquitto-h.out" 2>&1; then
    pass
  else
    fail "phase H against Mosquitto: $(grep -E 'FAIL|Error|Traceback' "$T/mosquitto-h.out" | head -n 5)"
  fi
  sed 's/^/mosquitto: /' "$T/mosquitto-h.out"
fi
finish
