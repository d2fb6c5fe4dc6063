#!/usr/bin/env python3
"""A small scripted SMTP peer for the relayctl probe tests: one behaviour per
listening address, real sockets, bounded. Not the simulator (tests/sim/):
just enough to pin the engine's dialogue rules.

    probe_peer.py READYFILE BEHAVIOUR@IP:PORT[,ARG] ...
"""
import asyncio, os, sys, time

LOCAL = "local.test"

class Peer:
    def __init__(self, behaviour, arg):
        self.b = behaviour
        self.arg = arg
        self.greylist_seen = {}  # rcpt -> first seen
        self.connections = 0

    async def send(self, w, text):
        data = text.encode()
        if self.b == "split":
            # Multi-line replies (greeting, EHLO) byte by byte; every other reply
            # in two segments cut inside its code, so no reply arrives whole.
            # Not every byte of the ~300 replies: that took longer than the
            # deadline on a loaded machine.
            pieces = [data[i:i + 1] for i in range(len(data))] if data.count(b"\n") > 1 \
                else [data[:2], data[2:]]
            for piece in pieces:
                w.write(piece)
                await w.drain()
                await asyncio.sleep(0.001)
        else:
            w.write(data)
            await w.drain()

    async def handle(self, r, w):
        self.connections += 1
        log = os.environ.get("PEER_LOG")
        if log:
            with open(log, "a") as f:
                f.write("%s connect\n" % self.b)
        try:
            await self.session(r, w)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            try:
                w.close()
            except Exception:
                pass

    def rcpt_reply(self, arg):
        b = self.b
        if b in ("open", "split", "pipelining", "multiline", "datareject", "ehlo502", "eodreject"):
            return "250 2.1.5 ok\r\n"
        if b == "greylist":
            now = time.monotonic()
            first = self.greylist_seen.setdefault(arg, now)
            if now - first < float(self.arg or "0.3"):
                return "450 4.2.0 greylisted, try again later\r\n"
            return "250 2.1.5 ok\r\n"
        if b == "defer471":
            return "454 4.7.1 <x>: Relay access denied\r\n"
        if b == "tempfail":
            return "451 4.3.0 temporary local problem\r\n"
        if b == "percent":
            return "250 2.1.5 ok\r\n" if "%" in arg else "554 5.7.1 Relay access denied\r\n"
        return "554 5.7.1 <x>: Relay access denied\r\n"

    async def session(self, r, w):
        b = self.b
        if b == "silent":
            await asyncio.sleep(3600)
        if b == "banner554":
            await self.send(w, "554 5.7.1 no service for you\r\n")
            await asyncio.sleep(0.2)
            return
        if b == "close":
            return
        if b == "garbage":
            w.write(b"\x00\xff garbage \x01\r\n")
            await w.drain()
            await asyncio.sleep(1)
            return
        if b == "endless":
            w.write(b"220 ")
            for _ in range(200):
                w.write(b"x" * 100)
                await w.drain()
                await asyncio.sleep(0.001)
            await asyncio.sleep(1)
            return
        if b == "pregreet":
            w.write(b"220-peer.example.org wait for it\r\n")
            await w.drain()
            try:
                early = await asyncio.wait_for(r.read(1), 0.3)
                if early:
                    return  # spoke before the greeting ended
            except asyncio.TimeoutError:
                pass
        if b == "multiline":
            await self.send(w, "".join("220-peer.example.org line %d\r\n" % i for i in range(30)) + "220 peer.example.org ESMTP\r\n")
        else:
            await self.send(w, "220 peer.example.org ESMTP test\r\n")
        errors = 0
        commands = 0
        in_tx = False
        while True:
            line = await asyncio.wait_for(r.readline(), 10)
            if not line:
                return
            commands += 1
            cmd = line.decode(errors="replace").rstrip("\r\n")
            up = cmd.upper()
            if b == "drop" and commands > int(self.arg or "3"):
                return
            if up.startswith("EHLO"):
                if b == "ehlo502":
                    rep = "502 5.5.2 command not recognized\r\n"
                else:
                    caps = ["peer.example.org hello", "SIZE 10000000", "8BITMIME"]
                    if b in ("pipelining", "limit421", "open"):
                        caps.insert(1, "PIPELINING")
                    rep = "".join("250-%s\r\n" % c for c in caps[:-1]) + "250 %s\r\n" % caps[-1]
            elif up.startswith("HELO"):
                rep = "250 peer.example.org\r\n"
            elif up.startswith("MAIL FROM:"):
                if b == "auth530":
                    rep = "530 5.7.0 Authentication required\r\n"
                else:
                    rep = "250 2.1.0 ok\r\n"
                    in_tx = True
            elif up.startswith("RCPT TO:"):
                rep = self.rcpt_reply(cmd[8:]) if in_tx else "503 5.5.1 need MAIL\r\n"
            elif up == "DATA":
                if b == "datareject":
                    rep = "554 5.7.1 no data for you\r\n"
                else:
                    await self.send(w, "354 go ahead\r\n")
                    size = 0
                    while True:
                        l = await asyncio.wait_for(r.readline(), 10)
                        if not l:
                            return
                        size += len(l)
                        if l in (b".\r\n", b".\n") or size > 100000:
                            break
                    rep = "554 5.7.1 rejected after data\r\n" if b == "eodreject" else "250 2.0.0 queued as X\r\n"
            elif up == "RSET":
                rep = "250 2.0.0 ok\r\n"
                in_tx = False
            elif up == "QUIT":
                await self.send(w, "221 2.0.0 bye\r\n")
                return
            else:
                rep = "502 5.5.2 unknown\r\n"
            if rep[0] in "45" and not rep.startswith("421"):
                errors += 1
                if b == "limit421" and errors > int(self.arg or "3"):
                    await self.send(w, "421 4.7.0 too many errors\r\n")
                    return
            await self.send(w, rep)

async def main():
    ready = sys.argv[1]
    servers = []
    for spec in sys.argv[2:]:
        beh, rest = spec.split("@", 1)
        arg = None
        if "," in rest:
            rest, arg = rest.split(",", 1)
        host, port = rest.rsplit(":", 1)
        host = host.strip("[]")
        peer = Peer(beh, arg)
        servers.append(await asyncio.start_server(peer.handle, host, int(port)))
    open(ready, "w").write("ready\n")
    await asyncio.sleep(120)  # bounded lifetime
    sys.stdout.flush()
    os._exit(0)  # no teardown noise from connections still held open

asyncio.run(main())
