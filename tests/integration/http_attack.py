#!/usr/bin/env python3
"""Hostile HTTP clients for the API's load tests, on loopback only.

    http_attack.py slowdrip HOST PORT SRC N SECS
        N connections from SRC, each sending a request one byte per second
        for SECS seconds (the request never completes). Prints
        "accepted=A closed_by_server=C still_open=O" at the end: a
        connection counts as accepted once it stayed open for a second.
    http_attack.py bigbody HOST PORT SRCS N SIZE
        N connections spread over the comma-separated source addresses SRCS,
        each a POST with "Content-Length: SIZE" and no Authorization header,
        up to 3 s for a reply before the body is streamed anyway. Prints
        "replies=R status401=U slowest_ms=T" (T: the slowest first reply byte).
"""
import selectors, socket, sys, time


def loopback(addr):
    if not addr.startswith("127."):
        sys.exit("http_attack: loopback addresses only, not %s" % addr)
    return addr


def connect(host, port, src):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((loopback(src), 0))
    s.setblocking(False)
    try:
        s.connect((loopback(host), port))
    except BlockingIOError:
        pass
    return s


def alive(s):
    """False once the server closed or reset the connection."""
    try:
        return s.recv(4096) != b""  # a reply still counts as open until the close
    except BlockingIOError:
        return True
    except OSError:
        return False


def slowdrip(host, port, src, n, secs):
    req = b"GET /v1/targets HTTP/1.1\r\nHost: x\r\nX-Drip: " + b"a" * 4096
    socks = [connect(host, port, src) for _ in range(n)]
    sent = 0
    open_ = [True] * n
    accepted = [False] * n
    start = time.monotonic()
    while time.monotonic() - start < secs:
        for i, s in enumerate(socks):
            if not open_[i]:
                continue
            try:
                s.send(req[sent:sent + 1])
            except BlockingIOError:
                pass
            except OSError:
                open_[i] = False
                continue
            if not alive(s):
                open_[i] = False
            elif sent >= 1:
                accepted[i] = True
        sent += 1
        time.sleep(1)
    for i, s in enumerate(socks):
        if open_[i] and not alive(s):
            open_[i] = False
    a = sum(accepted)
    still = sum(1 for i in range(n) if accepted[i] and open_[i])
    print("accepted=%d closed_by_server=%d still_open=%d" % (a, a - still, still), flush=True)
    for s in socks:
        s.close()


def bigbody(host, port, srcs, n, size):
    """Headers first, then up to 3 s for a reply, then the body regardless."""
    sel = selectors.DefaultSelector()
    head = ("POST /v1/sweeps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % size).encode()
    chunk = b"x" * 65536
    state = {}
    start = time.monotonic()
    for i in range(n):
        s = connect(host, port, srcs[i % len(srcs)])
        state[s] = {"out": head, "sent": 0, "reply": b"", "done": False, "t": None,
                    "body": False}
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    while time.monotonic() - start < 20 and any(not st["done"] for st in state.values()):
        body_time = time.monotonic() - start > 3
        for key, ev in sel.select(timeout=0.2):
            s, st = key.fileobj, state[key.fileobj]
            if ev & selectors.EVENT_READ:
                try:
                    data = s.recv(4096)
                except (BlockingIOError, InterruptedError):
                    data = None
                except OSError:
                    data = b""
                if data:
                    st["reply"] += data
                    if st["t"] is None:
                        st["t"] = time.monotonic() - start
                elif data == b"":
                    st["done"] = True
                    sel.unregister(s)
                    continue
            if not ev & selectors.EVENT_WRITE or st["done"]:
                continue
            if not st["out"] and body_time and st["sent"] < size:
                st["out"] = chunk[:min(len(chunk), size - st["sent"])]
                st["body"] = True
            if st["out"]:
                try:
                    k = s.send(st["out"])
                except BlockingIOError:
                    k = 0
                except OSError:
                    st["done"] = True
                    sel.unregister(s)
                    continue
                if st["body"]:
                    st["sent"] += k
                st["out"] = st["out"][k:]
            if st["sent"] >= size and not st["out"]:
                sel.modify(s, selectors.EVENT_READ)
    replies = [st for st in state.values() if st["reply"]]
    u = sum(1 for st in replies if st["reply"].startswith(b"HTTP/1.1 401"))
    slowest = max([st["t"] for st in replies if st["t"] is not None] or [0])
    print("replies=%d status401=%d slowest_ms=%d" % (len(replies), u, int(slowest * 1000)),
          flush=True)
    for s in state:
        s.close()


if __name__ == "__main__":
    if len(sys.argv) != 7 or sys.argv[1] not in ("slowdrip", "bigbody"):
        sys.exit(__doc__)
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "slowdrip":
        slowdrip(host, port, sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    else:
        bigbody(host, port, sys.argv[4].split(","), int(sys.argv[5]), int(sys.argv[6]))
