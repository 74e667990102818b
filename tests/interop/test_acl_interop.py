#!/usr/bin/env python3
"""One acl_file (the rendered mosquitto-acl template plus a few test lines) and one password_file (made by the
real mosquitto_passwd, $7$ and $6$ hashes) loaded by OUR broker and by Mosquitto 2.0 side by side; the same
client actions (paho, mosquitto_pub/sub) must give the same outcomes on both: allowed, subscription granted but
nothing delivered, publish acknowledged but dropped, retained messages filtered, wrong password, unknown user,
anonymous refused, a '+' user name refused everything, a device on a mutual-TLS listener whose certificate CN
is its user name (use_identity_as_username), a third listener without either file (per_listener_settings), and
a SIGHUP reload of both files.

Absence of a message is never judged by waiting: the publisher follows the forbidden message with a probe that
a witness may read; once the witness has it, a SUBSCRIBE round trip on the subscriber's own connection (a fence)
proves that anything the broker sent it earlier has arrived."""
import os
import queue
import signal
import ssl
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paho_support import Tally, mqtt  # noqa: E402 (re-executes under Debian's python3 when paho is missing)

MQTTPKI = os.environ["MQTTPKI"]
SRC = os.environ["MQTTPKI_SOURCE_DIR"]
MOSQUITTO = next((p for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto") if os.path.exists(p)), None)
for tool in ("mosquitto_passwd", "mosquitto_pub", "mosquitto_sub"):
    if not MOSQUITTO or subprocess.run(["which", tool], capture_output=True).returncode != 0:
        print(f"SKIP: {tool if MOSQUITTO else 'mosquitto'} not installed")
        sys.exit(77)

USERS = {"pi1": "pi1-pw", "pi2": "pi2-pw", "logger": "logger-pw", "ctl": "ctl-pw", "ev+il": "evil-pw"}
OLD_USER = ("old", "old-pw")  # hashed with -H sha512: the $6$ format of Mosquitto 1.6
TEST_LINES = "\n# test only: a probe topic everyone (but a '+' name) may use\npattern readwrite probe/#\n"
tally = Tally()
check = tally.check
WAIT = 10  # seconds, bound of every wait


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, log):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"broker on {port} did not start: {open(log).read()[-2000:]}")


class Client:
    """A paho client whose events land in queues, so that every wait is bounded and explicit."""

    def __init__(self, port, user=None, cid=None, cert=None):
        self.events = queue.Queue()
        self.messages = []
        self.c = mqtt.Client(client_id=cid or f"c-{user}-{time.monotonic_ns()}", clean_session=True)
        if user:
            self.c.username_pw_set(user, USERS.get(user, OLD_USER[1] if user == OLD_USER[0] else None))
        if cert:  # (certs folder, name): mutual TLS, server verified
            self.c.tls_set(ca_certs=f"{cert[0]}/ca.crt", certfile=f"{cert[0]}/{cert[1]}.crt",
                           keyfile=f"{cert[0]}/{cert[1]}.key", cert_reqs=ssl.CERT_REQUIRED)
        self.c.on_connect = lambda c, u, f, rc: self.events.put(("connack", rc))
        self.c.on_subscribe = lambda c, u, mid, granted: self.events.put(("suback", list(granted)))
        self.c.on_message = lambda c, u, m: self.events.put(("message", (m.topic, m.payload.decode(), m.retain)))
        self.c.connect("localhost" if cert else "127.0.0.1", port)
        self.c.loop_start()
        self.rc = self.expect("connack")

    def expect(self, kind):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                k, v = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if k == "message":
                self.messages.append(v)
            if k == kind:
                return v
        return None

    def subscribe(self, *filters):
        self.c.subscribe([(f, 1) for f in filters])
        return self.expect("suback")

    def publish(self, topic, payload, qos=1, retain=False):
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(WAIT)  # PUBACK / PUBCOMP: acknowledged even when the ACL drops it
        return info.is_published()

    def wait_for(self, topic):
        deadline = time.monotonic() + WAIT
        while not any(m[0] == topic for m in self.messages) and time.monotonic() < deadline:
            self.expect("message")
        return any(m[0] == topic for m in self.messages)

    def fence(self):
        self.subscribe(f"probe/fence/{time.monotonic_ns()}")
        return [m[0] for m in self.messages]

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def connect_rc(port, user, password):
    c = mqtt.Client(client_id=f"rc-{time.monotonic_ns()}")
    if user is not None:
        c.username_pw_set(user, password)
    got = queue.Queue()
    c.on_connect = lambda cl, u, f, rc: got.put(rc)
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        return got.get(timeout=WAIT)
    except queue.Empty:
        return None
    finally:
        c.disconnect()
        c.loop_stop()


def scenario(port):
    """The same actions on one broker; returns {action: outcome}."""
    r = {}
    r["connect pi1"] = connect_rc(port, "pi1", USERS["pi1"])
    r["connect old ($6$)"] = connect_rc(port, *OLD_USER)
    r["wrong password"] = connect_rc(port, "pi1", "nope")
    r["unknown user"] = connect_rc(port, "mallory", "x")
    r["user without password"] = connect_rc(port, "pi1", None)
    r["anonymous"] = connect_rc(port, None, None)

    logger, pi1, pi2, ctl, evil = (Client(port, u) for u in ("logger", "pi1", "pi2", "ctl", "ev+il"))
    r["logger subscribes sensors/#"] = logger.subscribe("sensors/#", "probe/#")
    r["pi2 subscribes sensors/# (no read)"] = pi2.subscribe("sensors/#")
    r["pi1 subscribes its commands"] = pi1.subscribe("commands/pi1/#")
    r["ev+il subscribes #"] = evil.subscribe("#")
    r["pi1 publishes its own reading (acked)"] = pi1.publish("sensors/pi1/t", "21.5")
    r["pi1 forges pi2's reading, QoS 1 (acked)"] = pi1.publish("sensors/pi2/t", "forged")
    r["pi1 forges pi2's reading, QoS 2 (acked)"] = pi1.publish("sensors/pi2/u", "forged", qos=2)
    pi1.publish("probe/1", "p")
    logger.wait_for("probe/1")
    r["logger received"] = sorted(t for t, _, _ in logger.messages if t.startswith("sensors/"))
    r["pi2 received"] = pi2.fence()
    r["ev+il received"] = evil.fence()

    r["ctl commands pi1"] = ctl.publish("commands/pi1/reboot", "now")
    r["logger commands pi1 (no write)"] = logger.publish("commands/pi1/wipe", "now")
    ctl.publish("probe/2", "p")
    logger.wait_for("probe/2")
    r["pi1 received"] = pi1.fence()

    pi1.publish("sensors/pi1/status", "up", retain=True)
    pi1.publish("probe/3", "p")
    logger.wait_for("probe/3")
    late_pi2, late_logger = Client(port, "pi2"), Client(port, "logger")
    late_pi2.subscribe("sensors/#")
    late_logger.subscribe("sensors/#")
    r["retained for pi2"] = late_pi2.fence()
    r["retained for logger"] = late_logger.fence()
    for c in (logger, pi1, pi2, ctl, evil, late_pi2, late_logger):
        c.close()
    return r


def tls_scenario(port, tls_port, certs):
    """pi1 by certificate (CN=pi1 is its user name): its own lane only."""
    r = {}
    logger, ctl = Client(port, "logger"), Client(port, "ctl")
    pi1 = Client(tls_port, cid="pi1-tls", cert=(certs, "client"))
    r["tls pi1 connects by certificate"] = pi1.rc
    logger.subscribe("sensors/#", "probe/#")
    pi1.subscribe("commands/#")
    pi1.publish("sensors/pi1/tls", "1")
    pi1.publish("sensors/pi2/tls", "forged")
    pi1.publish("probe/tls", "p")
    logger.wait_for("probe/tls")
    r["tls logger received"] = sorted(t for t, _, retained in logger.messages
                                      if t.startswith("sensors/") and not retained)
    ctl.publish("commands/pi2/x", "not for pi1")
    ctl.publish("commands/pi1/x", "for pi1")
    ctl.publish("probe/tls2", "p")
    logger.wait_for("probe/tls2")
    r["tls pi1 received"] = pi1.fence()
    for c in (logger, ctl, pi1):
        c.close()
    return r


def open_listener_scenario(port, open_port):
    """per_listener_settings: the third listener has neither file, so its clients are not checked."""
    r = {"open listener: wrong password": connect_rc(open_port, "pi1", "nope"),
         "open listener: anonymous": connect_rc(open_port, None, None)}
    logger = Client(port, "logger")
    logger.subscribe("sensors/#", "probe/#")
    anon = Client(open_port, cid="anon-open")
    anon.publish("sensors/anyone/x", "1")
    anon.publish("probe/open", "p")
    logger.wait_for("probe/open")
    r["open listener: logger received"] = sorted(t for t, _, retained in logger.messages
                                                 if t.startswith("sensors/") and not retained)
    for c in (logger, anon):
        c.close()
    return r


def cli(port, *args, timeout=WAIT):
    p = subprocess.run(list(args) + ["-h", "127.0.0.1", "-p", str(port)], capture_output=True, text=True,
                       timeout=timeout + 5)
    return p.returncode, p.stdout.strip(), p.stderr.strip()


def cli_scenario(port):
    """mosquitto_pub / mosquitto_sub; retained messages make every outcome immediate."""
    r = {}
    pub = lambda user, pw, *a: cli(port, "mosquitto_pub", "-u", user, "-P", pw, "-q", "1", *a)
    sub = lambda user, *a: cli(port, "mosquitto_sub", "-u", user, "-P", USERS[user], "-v", "-C", "1", "-W", str(WAIT),
                               *a)
    rc, _, err = pub("pi1", "nope", "-t", "sensors/pi1/cli", "-m", "x")
    r["mosquitto_pub wrong password"] = (rc != 0, "Connection Refused" in err)
    r["mosquitto_pub own retained"] = pub("pi1", USERS["pi1"], "-t", "sensors/pi1/cli", "-m", "hello", "-r")[0]
    r["mosquitto_pub forged retained (acked, dropped)"] = pub("pi2", USERS["pi2"], "-t", "sensors/pi1/cli", "-m",
                                                              "forged", "-r")[0]
    pub("pi1", USERS["pi1"], "-t", "probe/cli", "-m", "probe", "-r")
    r["mosquitto_sub logger"] = sub("logger", "-t", "sensors/pi1/cli")[1]
    # Retained messages come in subscription order: pi2 sees the probe first when the reading is filtered.
    r["mosquitto_sub pi2"] = sub("pi2", "-t", "sensors/pi1/cli", "-t", "probe/cli")[1]
    return r


def reload_scenario(port, proc, pwfile, aclfile):
    """New user and a wider ACL, then SIGHUP: both apply without a restart."""
    subprocess.run(["mosquitto_passwd", "-b", pwfile, "newbie", "newbie-pw"], check=True)
    with open(aclfile, "a") as f:
        f.write("\nuser pi2\ntopic read sensors/pi1/#\n")
    proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + WAIT
    rc = None
    while time.monotonic() < deadline:
        rc = connect_rc(port, "newbie", "newbie-pw")
        if rc == 0:
            break
        time.sleep(0.1)
    r = {"new user after SIGHUP": rc}
    r["mosquitto_sub pi2 after SIGHUP"] = cli(port, "mosquitto_sub", "-u", "pi2", "-P", USERS["pi2"], "-v", "-C", "1",
                                               "-W", str(WAIT), "-t", "sensors/pi1/cli")[1]
    return r


EXPECTED = {
    "connect pi1": 0, "connect old ($6$)": 0, "anonymous": 5,
    "logger subscribes sensors/#": [1, 1], "pi2 subscribes sensors/# (no read)": [1],
    "pi1 subscribes its commands": [1], "ev+il subscribes #": [1],
    "pi1 publishes its own reading (acked)": True, "pi1 forges pi2's reading, QoS 1 (acked)": True,
    "pi1 forges pi2's reading, QoS 2 (acked)": True,
    "logger received": ["sensors/pi1/t"], "pi2 received": [], "ev+il received": [],
    "ctl commands pi1": True, "logger commands pi1 (no write)": True, "pi1 received": ["commands/pi1/reboot"],
    "retained for pi2": [], "retained for logger": ["sensors/pi1/status"],
    "mosquitto_pub wrong password": (True, True), "mosquitto_pub own retained": 0,
    "mosquitto_pub forged retained (acked, dropped)": 0, "mosquitto_sub logger": "sensors/pi1/cli hello",
    "mosquitto_sub pi2": "probe/cli probe",
    "new user after SIGHUP": 0, "mosquitto_sub pi2 after SIGHUP": "sensors/pi1/cli hello",
    "tls pi1 connects by certificate": 0, "tls logger received": ["sensors/pi1/tls"],
    "tls pi1 received": ["commands/pi1/x"],
    "open listener: wrong password": 0, "open listener: anonymous": 0,
    "open listener: logger received": ["sensors/anyone/x"],
}
# Refused logins: CONNACK 4 (bad user name or password) from our broker, as the issue and MQTT 3.1.1 say;
# Mosquitto 2.0.11 answers 5 (not authorised) to all three. Either way the client is refused.
REFUSED = {"wrong password": (4, 5), "unknown user": (4, 5), "user without password": (4, 5)}


def run_broker(kind, tmp, pwfile, aclfile, certs):
    port, tls_port, open_port = free_port(), free_port(), free_port()
    conf = os.path.join(tmp, f"{kind}.conf")
    log = os.path.join(tmp, f"{kind}.log")
    with open(conf, "w") as f:
        if kind == "mosquitto":
            import pwd
            f.write(f"user {pwd.getpwuid(os.getuid()).pw_name}\nlog_dest stderr\nlog_type all\n")
        f.write(f"per_listener_settings true\nlistener {port} 127.0.0.1\npassword_file {pwfile}\nacl_file {aclfile}\n"
                f"listener {tls_port} 127.0.0.1\ncafile {certs}/ca.crt\ncertfile {certs}/server.crt\n"
                f"keyfile {certs}/server.key\nrequire_certificate true\nuse_identity_as_username true\n"
                f"acl_file {aclfile}\nlistener {open_port} 127.0.0.1\nallow_anonymous true\n")
    cmd = [MOSQUITTO, "-c", conf] if kind == "mosquitto" else [MQTTPKI, "broker", "--config", conf]
    proc = subprocess.Popen(cmd, stdout=open(log + ".out", "w"), stderr=open(log, "w"))
    wait_port(port, proc, log)
    wait_port(tls_port, proc, log)
    wait_port(open_port, proc, log)
    return proc, port, tls_port, open_port, log


def main():
    tmp = tempfile.mkdtemp(prefix="mqttpki-acl.")
    procs = []
    try:
        results = {}
        certs = os.path.join(tmp, "c")
        subprocess.run(["sh", f"{SRC}/tests/interop/make_test_certs.sh", certs], check=True, stdout=subprocess.DEVNULL)
        for kind in ("ours", "mosquitto"):
            # Each broker gets its own copy: the reload scenario edits them.
            pwfile, aclfile = os.path.join(tmp, f"{kind}.pw"), os.path.join(tmp, f"{kind}.acl")
            for i, (user, pw) in enumerate(USERS.items()):
                subprocess.run(["mosquitto_passwd"] + (["-c"] if i == 0 else []) + ["-b", pwfile, user, pw],
                               check=True)
            subprocess.run(["mosquitto_passwd", "-H", "sha512", "-b", pwfile, *OLD_USER], check=True)
            template = subprocess.run([MQTTPKI, "template", "mosquitto-acl", "--set", "controller=ctl"],
                                      capture_output=True, text=True, check=True).stdout
            with open(aclfile, "w") as f:
                f.write(template + TEST_LINES)
            proc, port, tls_port, open_port, log = run_broker(kind, tmp, pwfile, aclfile, certs)
            procs.append(proc)
            r = scenario(port)
            r.update(tls_scenario(port, tls_port, certs))
            r.update(open_listener_scenario(port, open_port))
            r.update(cli_scenario(port))
            r.update(reload_scenario(port, proc, pwfile, aclfile))
            results[kind] = r
            if kind == "ours":
                text = open(log).read()
                check("no password in our log", all(pw not in text for pw in USERS.values()) and "nope" not in text)
        for action, want in EXPECTED.items():
            for kind in ("ours", "mosquitto"):
                got = results[kind].get(action)
                check(f"{kind}: {action}", got == want, f"expected {want!r}, got {got!r}")
        for action, (ours, theirs) in REFUSED.items():
            check(f"ours: {action}", results["ours"][action] == ours, repr(results["ours"][action]))
            check(f"mosquitto: {action}", results["mosquitto"][action] == theirs, repr(results["mosquitto"][action]))
    finally:
        for p in procs:
            p.kill()
            p.wait()
        if tally.failures:
            for name in sorted(os.listdir(tmp)):
                if name.endswith(".log"):
                    print(f"--- {name}\n" + open(os.path.join(tmp, name)).read()[-3000:], file=sys.stderr)
        subprocess.run(["rm", "-rf", tmp])
    print(f"acl interop: {tally.passes} passed, {len(tally.failures)} failed")
    sys.exit(1 if tally.failures else 0)


if __name__ == "__main__":
    main()
