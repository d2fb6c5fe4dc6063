#!/usr/bin/env python3
"""A test smarthost on aiosmtpd (Debian's python3-aiosmtpd) that demands
STARTTLS and AUTH, as an ISP's submission service does. Every accepted
message is written to DIR/N.eml with the envelope, the TLS state and the
authenticated user in X-Smarthost-* lines on top; every AUTH attempt and
whether it came inside TLS is appended to DIR/auth.log.

    smarthost_tls.py --listen IP:PORT --dir DIR --cert PEM --key PEM
                     --user U --password P [--portfile F] [--mode MODE]

MODE: starttls (default: STARTTLS required before AUTH and MAIL),
      plain (no STARTTLS offered, AUTH offered in the clear: a trap for
      clients that would send credentials unencrypted),
      smtps (implicit TLS from the first byte).
Loopback only.
"""
import argparse, asyncio, os, ssl, sys, threading, time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, SMTP


class Store:
    def __init__(self, d, implicit):
        self.dir = d
        self.implicit = implicit  # an smtps listener speaks nothing but TLS
        # a restarted server carries on numbering
        self.n = len([f for f in os.listdir(d) if f.endswith(".eml")])
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.n += 1
            path = os.path.join(self.dir, "%d.eml" % self.n)
        tls = self.implicit or session.ssl is not None
        head = "X-Smarthost-From: %s\r\nX-Smarthost-To: %s\r\nX-Smarthost-TLS: %s\r\nX-Smarthost-User: %s\r\n" % (
            envelope.mail_from, ",".join(envelope.rcpt_tos), "yes" if tls else "no",
            getattr(session, "auth_data", None))
        body = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        with open(path + ".tmp", "wb") as f:
            f.write(head.encode() + body)
        os.rename(path + ".tmp", path)
        return "250 2.0.0 Ok: stored as %d" % self.n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--portfile")
    ap.add_argument("--mode", default="starttls", choices=["starttls", "plain", "smtps"])
    a = ap.parse_args()
    host, port = a.listen.rsplit(":", 1)
    if not host.startswith("127."):
        raise SystemExit("smarthost_tls: loopback only")
    os.makedirs(a.dir, exist_ok=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(a.cert, a.key)
    authlog = os.path.join(a.dir, "auth.log")

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login.decode(), auth_data.password.decode()) == (a.user, a.password)
        with open(authlog, "a") as f:
            f.write("%s tls=%s ok=%s\n" % (mechanism, "yes" if a.mode == "smtps" or session.ssl is not None else "no", ok))
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login.decode() if ok else None)

    kw = dict(authenticator=authenticator, auth_required=True,
              data_size_limit=1 << 20)
    if a.mode == "starttls":
        kw.update(tls_context=ctx, require_starttls=True, auth_require_tls=True)
    elif a.mode == "plain":
        kw.update(auth_require_tls=False)
    else:
        kw.update(ssl_context=ctx, auth_require_tls=False)
    c = Controller(Store(a.dir, a.mode == "smtps"), hostname=host, port=int(port), server_hostname="smarthost.test",
                   ready_timeout=10, **kw)
    if a.mode == "smtps":
        # the controller's readiness probe must speak TLS as a client here
        def trigger():
            import socket
            cc = ssl.create_default_context()
            cc.check_hostname = False
            cc.verify_mode = ssl.CERT_NONE
            with socket.create_connection((host, int(port)), timeout=5) as raw:
                with cc.wrap_socket(raw) as t:
                    t.recv(1024)
        c._trigger_server = trigger
    c.start()
    if a.portfile:
        with open(a.portfile + ".tmp", "w") as f:
            f.write(port)
        os.rename(a.portfile + ".tmp", a.portfile)
    print("listening", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        c.stop()


main()
