#!/usr/bin/env python3
"""A tiny authoritative DNS server for the reverse-DNS tests (loopback only).

    ptr_dns.py ADDR PORT IP=NAME|IP=silent ...

Answers PTR questions for the given addresses (in-addr.arpa) with NAME, stays
silent for IP=silent (the client must time out), NXDOMAIN for anything else.
Prints "ready" once bound; logs each question as "query NAME TYPE" on stderr.
"""
import socket
import struct
import sys


def ptr_name(ip):
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa"


def encode(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def parse_question(msg):
    pos, labels = 12, []
    while pos < len(msg) and msg[pos] != 0:
        n = msg[pos]
        if n & 0xC0 or pos + 1 + n > len(msg):
            return None
        labels.append(msg[pos + 1:pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    if pos + 5 > len(msg):
        return None
    qtype, qclass = struct.unpack("!HH", msg[pos + 1:pos + 5])
    return ".".join(labels).lower(), qtype, qclass, msg[12:pos + 5]


def main():
    addr, port = sys.argv[1], int(sys.argv[2])
    if not addr.startswith("127."):
        sys.exit("ptr_dns.py: loopback addresses only")
    table = {}
    for spec in sys.argv[3:]:
        ip, name = spec.split("=", 1)
        table[ptr_name(ip)] = name
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    print("ready", flush=True)
    while True:
        msg, peer = s.recvfrom(512)
        if len(msg) < 12:
            continue
        q = parse_question(msg)
        if q is None:
            continue
        qname, qtype, qclass, question = q
        print("query %s %d" % (qname, qtype), file=sys.stderr, flush=True)
        answer = table.get(qname)
        if answer == "silent":
            continue
        qid, flags = struct.unpack("!HH", msg[:4])
        rd = flags & 0x0100
        if answer is not None and qtype == 12:
            rdata = encode(answer)
            rr = struct.pack("!HHHIH", 0xC00C, 12, 1, 60, len(rdata)) + rdata
            head = struct.pack("!HHHHHH", qid, 0x8400 | rd, 1, 1, 0, 0)
            s.sendto(head + question + rr, peer)
        else:
            head = struct.pack("!HHHHHH", qid, 0x8403 | rd, 1, 0, 0, 0)
            s.sendto(head + question, peer)


if __name__ == "__main__":
    main()
