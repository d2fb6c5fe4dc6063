#!/usr/bin/env python3
"""An SMTP listener that breaks the TLS handshake: it offers STARTTLS,
refuses MAIL with "530 5.7.0 Must issue a STARTTLS command first", answers
STARTTLS with 220 and then sends plain text where the TLS server hello
belongs, and closes. Loopback only, bounded, one thread per session.

    tls_breaker.py --listen IP:PORT [--inject]

--inject sends a plaintext line in the same write as the 220 instead (the
STARTTLS command injection of CVE-2011-0411, seen from the client's side).
"""
import argparse, socket, threading, time

MAX_LINE = 1024


INJECT = False


def session(conn):
    conn.settimeout(10)
    f = conn.makefile("rb")
    try:
        conn.sendall(b"220 breaker.test ESMTP\r\n")
        while True:
            line = f.readline(MAX_LINE)
            if not line:
                return
            verb = line.strip().split(b" ")[0].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250-breaker.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
            elif verb == b"STARTTLS":
                if INJECT:
                    conn.sendall(b"220 2.0.0 Ready to start TLS\r\n250 injected\r\n")
                    time.sleep(1)
                    return
                conn.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                # let the client start its handshake, then answer it with text
                time.sleep(0.5)
                conn.sendall(b"this is not a TLS server hello\r\n" * 4)
                return
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            elif verb in (b"RSET", b"NOOP"):
                conn.sendall(b"250 ok\r\n")
            else:
                conn.sendall(b"530 5.7.0 Must issue a STARTTLS command first\r\n")
    except OSError:
        pass
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--inject", action="store_true")
    a = ap.parse_args()
    global INJECT
    INJECT = a.inject
    host, port = a.listen.rsplit(":", 1)
    if not host.startswith("127."):
        raise SystemExit("tls_breaker: loopback only")
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    s.listen(16)
    print("listening", flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=session, args=(c,), daemon=True).start()


main()
