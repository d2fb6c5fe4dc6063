#!/usr/bin/env python3
"""A webhook receiver for the tests, on loopback: records every POST as one
JSON line (event id header, idempotency key, whether the signature is valid,
the body, the status answered) and answers 500 while the number in
--fail-file is above zero (each such answer takes one off); while
--hang-file exists it answers nothing (and writes "hanging" into it)."""
import argparse, hashlib, hmac, json, os, time
from http.server import BaseHTTPRequestHandler, HTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--listen", required=True)      # IP (port 0: any free one)
ap.add_argument("--portfile", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--fail-file", required=True)
ap.add_argument("--hang-file", required=True)   # exists: answer nothing for 60 s
args = ap.parse_args()


def take_failure():
    try:
        with open(args.fail_file) as f:
            n = int(f.read().strip() or 0)
    except FileNotFoundError:
        return False
    if n <= 0:
        return False
    with open(args.fail_file, "w") as f:
        f.write(str(n - 1))
    return True


class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(min(n, 1 << 20))
        want = "sha256=" + hmac.new(args.key.encode(), body, hashlib.sha256).hexdigest()
        got = self.headers.get("X-Relayaudit-Signature", "")
        if os.path.exists(args.hang_file):
            with open(args.hang_file, "w") as f:
                f.write("hanging")
            time.sleep(60)
            return
        status = 500 if take_failure() else 204
        rec = {"path": self.path, "status": status,
               "event_id": self.headers.get("X-Relayaudit-Event-Id"),
               "idempotency_key": self.headers.get("Idempotency-Key"),
               "content_type": self.headers.get("Content-Type"),
               "signature_ok": hmac.compare_digest(want, got),
               "body": json.loads(body.decode())}
        with open(args.log, "a") as f:
            f.write(json.dumps(rec) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


srv = HTTPServer((args.listen, 0), Hook)
with open(args.portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(args.portfile + ".tmp", args.portfile)
srv.serve_forever()
