#!/usr/bin/env python3
"""A capture SMTP server standing in for the smarthost in the workflow
tests: real socket, bounded, every accepted message written to DIR/N.eml
(N counting from 1) with the envelope in X-Capture-* lines on top.

    capture_smtp.py --listen IP:PORT --dir DIR [--portfile F]
                    [--stall STAGE:SECS[:COUNT]] [--reply STAGE:CODE[:COUNT]]

STAGE is banner, mail, rcpt, data or dot. --stall delays the reply at STAGE
for the first COUNT sessions (default 1); at "dot" the message is already
stored when the stall begins (as an MTA commits before it answers).
--reply answers CODE at STAGE for the first COUNT sessions (default: all).
"""
import argparse, os, socket, sys, threading, time

MAX_LINE = 4096
MAX_MESSAGE = 1 << 20


class State:
    def __init__(self, args):
        self.dir = args.dir
        self.lock = threading.Lock()
        self.sessions = 0
        self.stored = 0
        self.stall = {}  # stage -> (secs, count)
        self.reply = {}  # stage -> (code, count)
        for s in args.stall or []:
            parts = s.split(":")
            self.stall[parts[0]] = (float(parts[1]), int(parts[2]) if len(parts) > 2 else 1)
        for r in args.reply or []:
            parts = r.split(":")
            self.reply[parts[0]] = (int(parts[1]), int(parts[2]) if len(parts) > 2 else 1 << 30)

    def store(self, mail_from, rcpts, data):
        with self.lock:
            self.stored += 1
            n = self.stored
        path = os.path.join(self.dir, "%d.eml" % n)
        with open(path + ".tmp", "wb") as f:
            f.write(b"X-Capture-From: " + mail_from + b"\r\n")
            f.write(b"X-Capture-To: " + b",".join(rcpts) + b"\r\n")
            f.write(data)
        os.rename(path + ".tmp", path)


def session(state, conn, number):
    f = conn.makefile("rb")

    def send(line):
        conn.sendall(line.encode() + b"\r\n")

    def readline():
        line = f.readline(MAX_LINE + 1)
        if not line or len(line) > MAX_LINE:
            raise ConnectionError("closed or line too long")
        return line.rstrip(b"\r\n")

    def special(stage, default):
        stall = state.stall.get(stage)
        if stall and number <= stall[1]:
            time.sleep(stall[0])
        reply = state.reply.get(stage)
        if reply and number <= reply[1]:
            send("%d capture says no at %s" % (reply[0], stage))
            return False
        send(default)
        return True

    special("banner", "220 capture.test ESMTP")
    mail_from, rcpts = None, []
    while True:
        line = readline()
        verb = line[:4].upper()
        if verb in (b"EHLO", b"HELO"):
            send("250-capture.test" if verb == b"EHLO" else "250 capture.test")
            if verb == b"EHLO":
                send("250 8BITMIME")
        elif verb == b"MAIL":
            if special("mail", "250 ok"):
                mail_from = line[10:].strip(b"<>")
        elif verb == b"RCPT":
            if special("rcpt", "250 ok"):
                rcpts.append(line[8:].strip(b"<>"))
        elif verb == b"DATA":
            if mail_from is None or not rcpts:
                send("503 need MAIL and RCPT")
                continue
            if not special("data", "354 go ahead"):
                continue
            chunks, size = [], 0
            while True:
                l = f.readline(MAX_LINE + 1)
                if not l:
                    raise ConnectionError("closed in DATA")
                if l in (b".\r\n", b".\n"):
                    break
                if l.startswith(b".."):
                    l = l[1:]
                size += len(l)
                if size > MAX_MESSAGE:
                    raise ConnectionError("message too large")
                chunks.append(l)
            reply = state.reply.get("dot")
            if reply and number <= reply[1]:
                send("%d capture says no at dot" % reply[0])
            else:
                state.store(mail_from, rcpts, b"".join(chunks))
                special("dot", "250 2.0.0 queued as %d" % state.stored)
            mail_from, rcpts = None, []
        elif verb == b"RSET":
            mail_from, rcpts = None, []
            send("250 ok")
        elif verb == b"QUIT":
            send("221 bye")
            return
        else:
            send("500 unknown command")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--portfile")
    ap.add_argument("--stall", action="append")
    ap.add_argument("--reply", action="append")
    args = ap.parse_args()
    host, port = args.listen.rsplit(":", 1)
    os.makedirs(args.dir, exist_ok=True)
    state = State(args)
    # Continue the numbering of an earlier run into the same directory.
    state.stored = len([n for n in os.listdir(args.dir) if n.endswith(".eml")])
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, int(port)))
    srv.listen(16)
    if args.portfile:
        with open(args.portfile + ".tmp", "w") as f:
            f.write(str(srv.getsockname()[1]))
        os.rename(args.portfile + ".tmp", args.portfile)
    while True:
        conn, _ = srv.accept()
        conn.settimeout(120)
        with state.lock:
            state.sessions += 1
            number = state.sessions

        def run(c=conn, n=number):
            try:
                session(state, c, n)
            except (ConnectionError, OSError, socket.timeout):
                pass
            finally:
                c.close()

        threading.Thread(target=run, daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
