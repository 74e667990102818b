#!/usr/bin/env python3
"""Python paho-mqtt (1.6) against OUR broker over mutual TLS, with paho's host name verification:
a publish/subscribe round trip at QoS 1 and 2, MQTT 3.1 (round trip; a 24-byte client id gets CONNACK 2),
a server certificate whose SAN lacks the host
(refused by paho), and a client certificate from another CA (refused by our broker)."""
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paho_support import Tally, mqtt  # noqa: E402 (re-executes under Debian's python3 when paho is missing)

MQTTPKI = os.environ["MQTTPKI"]
SRC = os.environ["MQTTPKI_SOURCE_DIR"]
tally = Tally()
check = tally.check


def start_broker(tmp, certs, name, certfile, keyfile):
    log = open(os.path.join(tmp, f"{name}.log"), "w")
    p = subprocess.Popen([MQTTPKI, "broker", "--port", "0", "--cafile", f"{certs}/ca.crt",
                          "--certfile", f"{certs}/{certfile}", "--keyfile", f"{certs}/{keyfile}",
                          "--require-certificate"], stdout=subprocess.PIPE, stderr=log, text=True)
    line = p.stdout.readline()  # the broker flushes its listening line at start
    m = re.match(r"listening on 127\.0\.0\.1:(\d+) \(tls\)", line)
    if not m:
        p.kill()
        raise SystemExit(f"broker did not start: {line!r} {open(log.name).read()}")
    return p, int(m.group(1)), log.name


def make_client(certs, cid, cert="client", ca="ca.crt", protocol=mqtt.MQTTv311):
    c = mqtt.Client(client_id=cid, clean_session=True, protocol=protocol)
    c.tls_set(ca_certs=f"{certs}/{ca}", certfile=f"{certs}/{cert}.crt", keyfile=f"{certs}/{cert}.key",
              cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    c.tls_insecure_set(False)  # check the host name against the SAN
    return c


def wait(event, seconds=10):
    return event.wait(seconds)


def main():
    tmp = tempfile.mkdtemp(prefix="mqttpki-paho.")
    procs = []
    try:
        certs = os.path.join(tmp, "c")
        subprocess.run(["sh", f"{SRC}/tests/interop/make_test_certs.sh", certs], check=True,
                       stdout=subprocess.DEVNULL)
        broker, port, log = start_broker(tmp, certs, "good", "server.crt", "server.key")
        procs.append(broker)

        # round trip at QoS 1 and 2
        got = []
        subscribed = threading.Event()
        received = threading.Event()
        sub = make_client(certs, "paho-sub")
        sub.on_connect = lambda c, u, f, rc: c.subscribe("paho/#", qos=2)
        sub.on_subscribe = lambda c, u, mid, granted: subscribed.set()

        def on_message(c, u, msg):
            got.append((msg.topic, msg.payload.decode(), msg.qos))
            if len(got) == 2:
                received.set()
        sub.on_message = on_message
        sub.connect("localhost", port, keepalive=30)
        sub.loop_start()
        check("paho subscribed", wait(subscribed))

        pub = make_client(certs, "paho-pub")
        connected = threading.Event()
        pub.on_connect = lambda c, u, f, rc: connected.set() if rc == 0 else None
        pub.connect("localhost", port, keepalive=30)
        pub.loop_start()
        check("paho publisher connected", wait(connected))
        infos = [pub.publish("paho/q1", "one", qos=1), pub.publish("paho/q2", "two", qos=2)]
        for info in infos:
            info.wait_for_publish(10)
            check("paho publish acknowledged", info.is_published())
        check("paho received both", wait(received), str(got))
        check("paho payloads and QoS", sorted(got) == [("paho/q1", "one", 1), ("paho/q2", "two", 2)], str(got))
        for c in (pub, sub):
            c.disconnect()
            c.loop_stop()

        # MQTT 3.1 ("MQIsdp", level 3), still spoken by old devices: served, with 3.1's client id rule
        v31_got = []
        v31_rc = []
        v31_received = threading.Event()
        v31_connected = threading.Event()
        v31 = make_client(certs, "paho-v31", protocol=mqtt.MQTTv31)

        def v31_on_connect(c, u, f, rc):
            v31_rc.append(rc)
            c.subscribe("v31/t", qos=1)
        v31.on_connect = v31_on_connect
        v31.on_subscribe = lambda c, u, mid, granted: (c.publish("v31/t", "old", qos=1), v31_connected.set())

        def v31_on_message(c, u, msg):
            v31_got.append(msg.payload.decode())
            v31_received.set()
        v31.on_message = v31_on_message
        v31.connect("localhost", port, keepalive=30)
        v31.loop_start()
        check("paho MQTT 3.1 connected and subscribed", wait(v31_connected) and v31_rc == [0], str(v31_rc))
        check("paho MQTT 3.1 round trip", wait(v31_received) and v31_got == ["old"], str(v31_got))
        v31.disconnect()
        v31.loop_stop()
        long_rc = []
        refused_31 = threading.Event()
        too_long = make_client(certs, "x" * 24, protocol=mqtt.MQTTv31)
        too_long.on_connect = lambda c, u, f, rc: (long_rc.append(rc), refused_31.set())
        too_long.connect("localhost", port, keepalive=30)
        too_long.loop_start()
        check("paho MQTT 3.1 with a 24-byte client id gets CONNACK 2", wait(refused_31) and long_rc == [2],
              str(long_rc))
        too_long.loop_stop()

        # a client certificate from another CA: our broker refuses the handshake and says why
        bad = make_client(certs, "paho-intruder", cert="other-client")
        refused = False
        ok = threading.Event()
        bad.on_connect = lambda c, u, f, rc: ok.set() if rc == 0 else None
        try:
            bad.connect("localhost", port, keepalive=30)
            # TLS 1.3: the broker's alert arrives after paho's side of the handshake, on the first read
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not ok.is_set():
                if bad.loop(0.2) != mqtt.MQTT_ERR_SUCCESS:
                    break
            refused = not ok.is_set()
        except (ssl.SSLError, OSError):
            refused = True
        check("paho with another CA's certificate refused", refused)
        deadline = time.monotonic() + 10
        text = ""
        while time.monotonic() < deadline:
            text = open(log).read()
            if "is not signed by" in text:
                break
            time.sleep(0.05)
        check("broker logs the refusal", re.search(r"refused TLS handshake from 127\.0\.0\.1:\d+ on tls:\d+: "
                                                   r"client certificate 'intruder' is not signed by", text), text)

        # a server certificate without 'localhost' in its SAN: paho's host name check refuses it
        wrong, wport, _ = start_broker(tmp, certs, "wrong", "wrongname.crt", "wrongname.key")
        procs.append(wrong)
        c = make_client(certs, "paho-host")
        try:
            c.connect("localhost", wport, keepalive=30)
            check("paho refuses a host name not in the SAN", False, "connected")
        except ssl.SSLCertVerificationError as e:
            check("paho refuses a host name not in the SAN", "Hostname mismatch" in str(e) or "hostname" in str(e).lower(), str(e))
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{tally.passes} passed, {len(tally.failures)} failed")
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
