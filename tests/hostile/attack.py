#!/usr/bin/env python3
"""Hostile clients for make check-hostile (tests/hostile/run.sh).

Every subcommand talks to 127.0.0.1 only, is bounded in count and time, stops
by itself, and prints one line `result key=value ...` on stdout (counts of
what the attacker got back: HTTP statuses, "closed", "reset", "timeout").

  attack.py freeport N                       N free TCP ports on 127.0.0.1
  attack.py bodies  --port P --ca CA --cert C --key K [--n 40] [--size 15728640]
  attack.py idle    --port P --ca CA --cert C --key K [--n 1000] [--hold 5]
  attack.py fds     --port P [--n 1100] [--hold 8] [--ready FILE]   (SIGTERM ends the hold)
  attack.py flood   --port P --ca CA [--seconds 5] [--threads 4]
  attack.py badcl   --port P --ca CA --cert C --key K --max-body N
  attack.py monitor --pid PID                until SIGTERM: peak VmRSS (sampled
                                             every 100 ms) and CPU % of PID
Standard library only.
"""
import argparse
import collections
import os
import resource
import selectors
import signal
import socket
import ssl
import sys
import threading
import time

HOST = "127.0.0.1"


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def tls_ctx(ca, cert=None, key=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    ctx.check_hostname = False  # the dev server certificate names localhost and 127.0.0.1
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def classify_exc(e):
    if isinstance(e, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(e, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return "reset"
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    if isinstance(e, ssl.SSLError):
        return "tls_error"
    return "error"


def read_status(s, timeout):
    """The status line (and problem code, if any) of the answer on s, or what
    happened instead: closed, reset, timeout."""
    s.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while b"\r\n\r\n" not in data and time.monotonic() < deadline and len(data) < 65536:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        # a problem+json body names its code: read a little of it
        if b"problem+json" in data and b'"code"' not in data:
            s.settimeout(0.5)
            while b'"code"' not in data and len(data) < 65536:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    except Exception as e:  # noqa: BLE001 - any failure is an outcome to count
        if not data:
            return classify_exc(e)
    if not data:
        return "closed"
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split()
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        return "garbage"
    status = parts[1]
    code = ""
    i = data.find(b'"code"')
    if i >= 0:
        rest = data[i + 6:].lstrip(b" :")
        if rest.startswith(b'"'):
            code = rest[1:].split(b'"', 1)[0].decode("latin-1")
    return status + ("(" + code + ")" if code else "")


def result(counts, **extra):
    fields = [f"{k}={v}" for k, v in extra.items()]
    answers = ",".join(f"{k}:{v}" for k, v in sorted(counts.items())) or "none"
    print("result " + " ".join(fields) + " answers=" + answers, flush=True)


def run_threads(n, fn):
    ths = [threading.Thread(target=fn, args=(i,), daemon=True) for i in range(n)]
    for t in ths:
        t.start()
    return ths


# 1. bodies: N connections with a client certificate from the providers' CA
#    that no provider registered, each a 15 MB body as fast as it goes
def cmd_bodies(a):
    counts = collections.Counter()
    lock = threading.Lock()
    chunk = b" " * 65536

    def one(i):
        outcome = "error"
        try:
            raw = socket.create_connection((HOST, a.port), timeout=a.timeout)
            s = tls_ctx(a.ca, a.cert, a.key).wrap_socket(raw, server_hostname="localhost")
            head = f'{{"batch_id":"{a.prefix}-{i}","provider":"bench","records":['.encode()
            tail = b"]}"
            s.sendall((f"POST /v1/usage-batches HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       f"Content-Type: application/json\r\nContent-Length: {a.size}\r\n\r\n").encode())
            s.sendall(head)
            left = a.size - len(head) - len(tail)
            sent_all = True
            try:
                while left > 0:
                    n = min(left, len(chunk))
                    s.sendall(chunk[:n])
                    left -= n
                s.sendall(tail)
            except Exception:  # noqa: BLE001 - the server may close mid-body
                sent_all = False
            outcome = read_status(s, a.timeout)
            if not sent_all:
                outcome += "/mid-body"
            s.close()
        except Exception as e:  # noqa: BLE001
            outcome = classify_exc(e)
        with lock:
            counts[outcome] += 1

    t0 = time.monotonic()
    for t in run_threads(a.n, one):
        t.join(a.timeout * 3)
    result(counts, connections=a.n, body_bytes=a.size, seconds=f"{time.monotonic() - t0:.1f}")


# 2. idle: K TLS connections (registered certificate) that complete the
#    handshake and then say nothing
def cmd_idle(a):
    raise_nofile()
    ctx = tls_ctx(a.ca, a.cert, a.key)
    socks = []
    counts = collections.Counter()
    lock = threading.Lock()
    nxt = [0]

    def worker(_):
        while True:
            with lock:
                if nxt[0] >= a.n:
                    return
                nxt[0] += 1
            try:
                raw = socket.create_connection((HOST, a.port), timeout=5)
                s = ctx.wrap_socket(raw, server_hostname="localhost")
                with lock:
                    socks.append(s)
            except Exception as e:  # noqa: BLE001
                with lock:
                    counts["connect_" + classify_exc(e)] += 1

    t0 = time.monotonic()
    for t in run_threads(a.threads, worker):
        t.join(a.n * 5)
    setup = time.monotonic() - t0
    established = len(socks)
    closed = 0
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    end = time.monotonic() + a.hold
    open_socks = set(socks)
    while time.monotonic() < end and open_socks:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                while True:
                    if not s.recv(4096):
                        raise ConnectionResetError
            except ssl.SSLWantReadError:
                continue
            except Exception:  # noqa: BLE001 - closed or reset by the server
                sel.unregister(s)
                open_socks.discard(s)
                closed += 1
    sel.close()
    for s in socks:
        s.close()
    counts["closed_by_server"] = closed
    counts["open_at_end"] = len(open_socks)
    result(counts, asked=a.n, established=established, setup_s=f"{setup:.1f}", hold_s=a.hold)


# 3. fds: plain TCP connections, held (descriptor exhaustion)
def cmd_fds(a):
    raise_nofile()
    socks = []
    for _ in range(a.n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((HOST, a.port))
        socks.append(s)
    # connected = the kernel completed the handshake (in the listen backlog or accepted)
    deadline = time.monotonic() + 2
    pending = set(socks)
    connected = 0
    failed = 0
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_WRITE)
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.1):
            s = key.fileobj
            sel.unregister(s)
            pending.discard(s)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                connected += 1
            else:
                failed += 1
    sel.close()
    if a.ready:
        with open(a.ready, "w") as f:
            f.write(f"{connected}\n")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait(a.hold)
    # how many did the server close meanwhile (EOF readable)?
    closed = 0
    for s in socks:
        try:
            if s.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        s.close()
    counts = collections.Counter(connected=connected, connect_failed=failed,
                                 connect_pending=len(pending), closed_by_server=closed)
    result(counts, asked=a.n, hold_s=a.hold)


# 4. flood: TLS handshakes without a client certificate, as fast as it goes
def cmd_flood(a):
    ctx = tls_ctx(a.ca)
    counts = collections.Counter()
    lock = threading.Lock()
    end = time.monotonic() + a.seconds

    def worker(_):
        local = collections.Counter()
        while time.monotonic() < end:
            try:
                raw = socket.create_connection((HOST, a.port), timeout=2)
                raw.settimeout(2)
                s = ctx.wrap_socket(raw, server_hostname="localhost")
                # TLS 1.3: the client finishes first; the server's refusal
                # (certificate required) comes as an alert on the first read
                try:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    d = s.recv(64)
                    local["answered" if d else "closed_after_handshake"] += 1
                except ssl.SSLError:
                    local["refused_alert"] += 1
                except Exception as e:  # noqa: BLE001
                    local["after_handshake_" + classify_exc(e)] += 1
                s.close()
            except ssl.SSLError:
                local["refused_in_handshake"] += 1
            except Exception as e:  # noqa: BLE001
                local["connect_" + classify_exc(e)] += 1
        with lock:
            counts.update(local)

    t0 = time.monotonic()
    for t in run_threads(a.threads, worker):
        t.join(a.seconds + 10)
    secs = time.monotonic() - t0
    total = sum(counts.values())
    result(counts, handshakes=total, seconds=f"{secs:.1f}", per_s=f"{total / secs:.0f}")


# 5. badcl: Content-Length the way a smuggler writes it
def cmd_badcl(a):
    ctx = tls_ctx(a.ca, a.cert, a.key)
    common = ("POST /v1/usage-batches HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              "Content-Type: application/json\r\n")
    cases = [
        ("two_lengths", common + "Content-Length: 5\r\nContent-Length: 7\r\n\r\n", b"{}   "),
        ("plus_sign", common + "Content-Length: +5\r\n\r\n", b"{}   "),
        ("spaces", common + "Content-Length:  5 \r\n\r\n", b"{}   "),
        ("over_max", common + f"Content-Length: {a.max_body + 1}\r\n\r\n", b"{}"),
    ]
    out = []
    for name, head, body in cases:
        try:
            raw = socket.create_connection((HOST, a.port), timeout=5)
            s = ctx.wrap_socket(raw, server_hostname="localhost")
            s.sendall(head.encode() + body)
            out.append((name, read_status(s, a.timeout)))
            s.close()
        except Exception as e:  # noqa: BLE001
            out.append((name, classify_exc(e)))
    print("result " + " ".join(f"{n}={st}" for n, st in out), flush=True)


# monitor: peak VmRSS sampled every 100 ms and CPU % of a process, until SIGTERM
def cmd_monitor(a):
    tck = os.sysconf("SC_CLK_TCK")

    def cpu():
        with open(f"/proc/{a.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime (fields 14, 15)

    def rss_kib():
        with open(f"/proc/{a.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if a.ready:
        open(a.ready, "w").close()
    alive = True
    try:
        c0 = cpu()
    except OSError:
        print("result alive=0 peak_rss_mib=0 cpu_pct=0 seconds=0", flush=True)
        return
    t0 = time.monotonic()
    peak = rss_kib()
    c1 = c0
    t1 = t0
    deadline = t0 + a.max_seconds
    while not stop.is_set() and time.monotonic() < deadline:
        stop.wait(0.1)
        try:
            peak = max(peak, rss_kib())
            c1 = cpu()
            t1 = time.monotonic()
        except OSError:
            alive = False
            break
    secs = max(t1 - t0, 1e-3)
    print(f"result alive={int(alive)} peak_rss_mib={peak / 1024:.1f} "
          f"cpu_pct={100.0 * (c1 - c0) / tck / secs:.0f} seconds={secs:.1f}", flush=True)


def cmd_freeport(a):
    socks = []
    for _ in range(a.count):
        s = socket.socket()
        s.bind((HOST, 0))
        socks.append(s)
    print(" ".join(str(s.getsockname()[1]) for s in socks))
    for s in socks:
        s.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def tls_args(sp, cert=True):
        sp.add_argument("--port", type=int, required=True)
        sp.add_argument("--ca", required=True)
        if cert:
            sp.add_argument("--cert", required=True)
            sp.add_argument("--key", required=True)

    sp = sub.add_parser("bodies")
    tls_args(sp)
    sp.add_argument("--n", type=int, default=40)
    sp.add_argument("--size", type=int, default=15728640)
    sp.add_argument("--prefix", default="hostile-unreg")
    sp.add_argument("--timeout", type=float, default=30)
    sp.set_defaults(fn=cmd_bodies)

    sp = sub.add_parser("idle")
    tls_args(sp)
    sp.add_argument("--n", type=int, default=1000)
    sp.add_argument("--hold", type=float, default=5)
    sp.add_argument("--threads", type=int, default=8)
    sp.set_defaults(fn=cmd_idle)

    sp = sub.add_parser("fds")
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--n", type=int, default=1100)
    sp.add_argument("--hold", type=float, default=8, help="seconds at most; SIGTERM ends it sooner")
    sp.add_argument("--ready")
    sp.set_defaults(fn=cmd_fds)

    sp = sub.add_parser("flood")
    tls_args(sp, cert=False)
    sp.add_argument("--seconds", type=float, default=5)
    sp.add_argument("--threads", type=int, default=4)
    sp.set_defaults(fn=cmd_flood)

    sp = sub.add_parser("badcl")
    tls_args(sp)
    sp.add_argument("--max-body", type=int, default=16777216)
    sp.add_argument("--timeout", type=float, default=8, help="seconds to wait for each answer")
    sp.set_defaults(fn=cmd_badcl)

    sp = sub.add_parser("monitor")
    sp.add_argument("--pid", type=int, required=True)
    sp.add_argument("--max-seconds", type=float, default=300)
    sp.add_argument("--ready", help="a file made once it samples (SIGTERM is handled from then on)")
    sp.set_defaults(fn=cmd_monitor)

    sp = sub.add_parser("freeport")
    sp.add_argument("count", type=int)
    sp.set_defaults(fn=cmd_freeport)

    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
