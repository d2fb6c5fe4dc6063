#!/usr/bin/env python3
"""Pipelining and --delay checks against a running relaysim (closed behaviour),
for test_sim_pipelining.sh. Real sockets, loopback only, every wait bounded.
Prints one line per check: "ok NAME" or "bad NAME: got ..., want ...".

    sim_pipeline_client.py group     HOST PORT   one pipelined group, replies in one read
    sim_pipeline_client.py big       HOST PORT   a ~28 KB group: every reply, in order
    sim_pipeline_client.py tls       HOST PORT   the group over implicit TLS: every reply, in order
    sim_pipeline_client.py delay MS  HOST PORT   no line leaves before MS after its cause
    sim_pipeline_client.py idle SECS HOST PORT   a silent client gets 421 after SECS, then EOF
"""
import select, socket, ssl, sys, time

TIMEOUT = 5.0


def out(name, ok, got="", want=""):
    print(f"ok {name}" if ok else f"bad {name}: got {got!r}, want {want!r}", flush=True)


def connect(host, port):
    s = socket.create_connection((host, port), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def wait_readable(s, end):
    """Bytes to read before `end` (a TLS socket may hold a record's rest already)."""
    if isinstance(s, ssl.SSLSocket) and s.pending() > 0:
        return True
    r, _, _ = select.select([s], [], [], max(0.0, end - time.monotonic()))
    return bool(r)


def read_lines(s, n, stamps=None):
    """n reply lines (bounded by TIMEOUT); with stamps, each line's arrival time."""
    buf, lines, end = b"", [], time.monotonic() + TIMEOUT
    while len(lines) < n and time.monotonic() < end:
        if not wait_readable(s, end):
            break
        data = s.recv(65536)
        now = time.monotonic()
        if not data:
            break
        buf += data
        while b"\r\n" in buf:
            line, buf = buf.split(b"\r\n", 1)
            lines.append(line.decode("latin-1"))
            if stamps is not None:
                stamps.append(now)
    return lines


def eof_next(s):
    s.settimeout(TIMEOUT)
    try:
        return s.recv(65536) == b""
    except OSError:
        return False


def closed_group():
    """The prober's planned connection: transactions and QUIT in one write."""
    cmds = ["RSET", "MAIL FROM:<a@b.test>", "RCPT TO:<x@y.test>",
            "RSET", "MAIL FROM:<a@b.test>", "RCPT TO:<z@y.test>", "QUIT"]
    want = ["250 2.0.0 Ok", "250 2.1.0 Ok", "554 5.7.1 <x@y.test>: Relay access denied",
            "250 2.0.0 Ok", "250 2.1.0 Ok", "554 5.7.1 <z@y.test>: Relay access denied",
            "221 2.0.0 Bye"]
    return "".join(c + "\r\n" for c in cmds).encode(), want


def read_reply(s):
    """One whole (multi-line) reply, as bytes arrive: lines until "NNN " (bounded)."""
    lines = []
    while True:
        line = read_lines_once(s)
        if line is None:
            return lines
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return lines


def read_lines_once(s):
    """Exactly one line, read a byte at a time so that nothing after it is consumed."""
    buf, end = b"", time.monotonic() + TIMEOUT
    while not buf.endswith(b"\r\n") and time.monotonic() < end:
        if not wait_readable(s, end):
            return None
        c = s.recv(1)
        if not c:
            return None
        buf += c
    return buf[:-2].decode("latin-1") if buf.endswith(b"\r\n") else None


def greet_and_ehlo(s):
    read_reply(s)
    s.sendall(b"EHLO client.test\r\n")
    got = read_reply(s)
    return got and got[-1].startswith("250 ")


def group(host, port):
    s = connect(host, port)
    greet_and_ehlo(s)
    data, want = closed_group()
    s.sendall(data)
    s.settimeout(TIMEOUT)
    first = s.recv(65536).decode("latin-1")  # blocks until the first bytes arrive
    got = first.split("\r\n")[:-1]
    out("pipelined_group_answered_in_one_read_in_order", got == want, got, want)
    out("pipelined_group_ends_with_close_after_221", eof_next(s), "no EOF", "EOF")


def big(host, port):
    s = connect(host, port)
    greet_and_ehlo(s)
    n = 400  # ~28 KB: more than one read of relaysim's, lines cut between reads
    addrs = [f"u{i:04d}-{'p' * 48}@y.test" for i in range(n)]
    s.sendall(b"MAIL FROM:<a@b.test>\r\n" +
              b"".join(f"RCPT TO:<{a}>\r\n".encode() for a in addrs) + b"QUIT\r\n")
    got = read_lines(s, n + 2)
    want = ["250 2.1.0 Ok"] + [f"554 5.7.1 <{a}>: Relay access denied" for a in addrs] + \
        ["221 2.0.0 Bye"]
    bad = next((i for i in range(len(want)) if i >= len(got) or got[i] != want[i]), None)
    out("big_pipelined_group_every_reply_in_order", bad is None and len(got) == len(want),
        f"line {bad}: {got[bad] if bad is not None and bad < len(got) else 'missing'}",
        want[bad] if bad is not None else "")


def tls(host, port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # a throwaway certificate: the test is about the replies
    s = ctx.wrap_socket(connect(host, port), server_hostname="relaysim.test")
    greet_and_ehlo(s)
    data, want = closed_group()
    s.sendall(data)
    got = read_lines(s, len(want))
    out("tls_pipelined_group_every_reply_in_order", got == want, got, want)


def delay(ms, host, port):
    d = ms / 1000.0
    t0 = time.monotonic()
    s = connect(host, port)
    stamps = []
    read_lines(s, 1, stamps)
    out("delay_greeting_not_before_delay", stamps and stamps[0] - t0 >= d,
        f"{(stamps[0] - t0) * 1000 if stamps else -1:.2f} ms", f">= {ms} ms")

    # A whole group in one write: all replies together, none early.
    s.sendall(b"EHLO client.test\r\n")
    read_reply(s)
    data, want = closed_group()
    t1 = time.monotonic()
    s.sendall(data)
    s.settimeout(TIMEOUT)
    first = s.recv(65536)
    t2 = time.monotonic()
    got = first.decode("latin-1").split("\r\n")[:-1]
    out("delay_group_answered_in_one_read_in_order", got == want, got, want)
    out("delay_group_not_before_delay", t2 - t1 >= d, f"{(t2 - t1) * 1000:.2f} ms", f">= {ms} ms")
    s.close()

    # Commands sent at different times: each reply leaves no earlier than MS after
    # its own command, not with an earlier command's replies.
    s = connect(host, port)
    read_lines(s, 1)
    sent, stamps = [], []
    for i in range(4):
        sent.append(time.monotonic())
        s.sendall(f"NOOP {i}\r\n".encode())
        time.sleep(d / 3)
    got = read_lines(s, 4, stamps)
    gaps = [(stamps[i] - sent[i]) * 1000 for i in range(min(len(stamps), 4))]
    out("delay_each_reply_not_before_its_own_command", len(gaps) == 4 and min(gaps) >= ms,
        " ".join(f"{g:.2f}" for g in gaps) + " ms", f"4 replies, each >= {ms} ms")
    s.close()


def idle(secs, host, port):
    s = connect(host, port)
    read_reply(s)
    t0 = time.monotonic()  # relaysim reads the EHLO after this: its idle time starts later
    s.sendall(b"EHLO client.test\r\n")
    read_reply(s)
    got = read_lines(s, 1)  # nothing more sent: the next line is the timeout's
    waited = time.monotonic() - t0
    want = ["421 4.4.2 Error: timeout exceeded"]
    out("idle_client_gets_421", got == want, got, want)
    out("idle_timeout_after_idle_secs", secs <= waited < secs + 2.5, f"{waited:.2f} s",
        f"{secs} to {secs + 2.5} s")
    out("idle_421_then_close", eof_next(s), "no EOF", "EOF")


def main():
    if sys.argv[1] in ("delay", "idle"):
        {"delay": delay, "idle": idle}[sys.argv[1]](int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    else:
        {"group": group, "big": big, "tls": tls}[sys.argv[1]](sys.argv[2], int(sys.argv[3]))


if __name__ == "__main__":
    main()
