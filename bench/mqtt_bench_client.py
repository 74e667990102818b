#!/usr/bin/env python3
"""A tiny MQTT 3.1.1 client over mutual TLS for bench/broker_bench.sh (standard library only).

  latency HOST PORT CA CERT KEY COUNT
      Two connections: one subscribes to a topic (QoS 0), the other publishes COUNT messages one at a time,
      each waiting for its arrival at the subscriber. Prints "latency_us median=.. p99=.. count=..".
  idle HOST PORT CA CERT KEY PID N1,N2,..
      Opens TLS connections with a CONNECT each (keep-alive 600 s) up to N1, prints the broker's VmRSS
      (from /proc/PID/status) as "idle_rss_kib N=.. rss=..", then up to N2, and so on.
"""
import concurrent.futures
import socket
import ssl
import statistics
import sys
import time


def rl(n):
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def s16(b):
    return len(b).to_bytes(2, "big") + b


def connect_packet(cid, keepalive):
    body = s16(b"MQTT") + b"\x04\x02" + keepalive.to_bytes(2, "big") + s16(cid.encode())
    return b"\x10" + rl(len(body)) + body


class Conn:
    def __init__(self, host, port, ctx, cid, keepalive=60, nodelay=True, source=None):
        # source: the local address to connect from (tests/interop/abuse_defaults.py), else the kernel's choice
        raw = socket.create_connection((host, port), timeout=30, source_address=(source, 0) if source else None)
        if nodelay:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s = ctx.wrap_socket(raw, server_hostname=host)
        self.buf = b""
        self.s.sendall(connect_packet(cid, keepalive))
        h, body = self.read_packet()
        if h != 0x20 or body[1] != 0:
            raise SystemExit(f"CONNACK refused: {h:#x} {body!r}")

    def exact(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed by the broker")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_packet(self):
        h = self.exact(1)[0]
        n, mul = 0, 1
        while True:
            b = self.exact(1)[0]
            n += (b & 0x7F) * mul
            mul *= 128
            if not b & 0x80:
                break
        return h, self.exact(n) if n else b""


def make_ctx(ca, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    ctx.load_cert_chain(cert, key)
    return ctx


def latency(host, port, ca, cert, key, count):
    ctx = make_ctx(ca, cert, key)
    topic = b"bench/latency"
    sub = Conn(host, port, ctx, "lat-sub")
    body = (1).to_bytes(2, "big") + s16(topic) + b"\x00"
    sub.s.sendall(b"\x82" + rl(len(body)) + body)
    h, _ = sub.read_packet()
    assert h == 0x90, f"SUBACK expected, got {h:#x}"
    pub = Conn(host, port, ctx, "lat-pub")
    samples = []
    for i in range(count + 50):  # the first 50 warm up
        payload = i.to_bytes(8, "big")
        body = s16(topic) + payload
        packet = b"\x30" + rl(len(body)) + body
        t0 = time.perf_counter_ns()
        pub.s.sendall(packet)
        while True:
            h, got = sub.read_packet()
            if h & 0xF0 == 0x30 and got.endswith(payload):
                break
        if i >= 50:
            samples.append((time.perf_counter_ns() - t0) / 1000.0)
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(f"latency_us median={statistics.median(samples):.1f} p99={p99:.1f} count={len(samples)}", flush=True)


def rss_kib(pid, field="VmRSS"):
    """VmRSS (all resident pages, shared library pages included) or RssAnon (the process's private memory)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def idle(host, port, ca, cert, key, pid, counts):
    ctx = make_ctx(ca, cert, key)
    conns = []
    failed = []

    def one(i):
        try:
            return Conn(host, port, ctx, f"idle-{i}", keepalive=600)
        except (OSError, EOFError) as e:
            failed.append(e)
            return None

    # 16 at a time: a broker that answers each CONNECT only after a delayed ACK (Nagle) is not slowed down
    # to 25 connections/s by the client; the TLS work is in OpenSSL, outside Python's lock.
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        for target in counts:
            t0 = time.monotonic()
            conns += [c for c in pool.map(one, range(len(conns), target)) if c]
            time.sleep(1.0)  # let the broker settle
            print(f"idle_rss_kib n={len(conns)} rss={rss_kib(pid)} anon={rss_kib(pid, 'RssAnon')} "
                  f"open_s={time.monotonic() - t0:.1f}", flush=True)
            if failed:
                print(f"idle: {len(failed)} connections failed, e.g. {failed[0]}", file=sys.stderr, flush=True)
                break
    for c in conns:
        c.s.close()


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "latency" and len(args) == 6:
        latency(args[0], int(args[1]), args[2], args[3], args[4], int(args[5]))
    elif cmd == "idle" and len(args) == 7:
        idle(args[0], int(args[1]), args[2], args[3], args[4], int(args[5]), [int(x) for x in args[6].split(",")])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
