#!/usr/bin/python3
"""Varied flow records for the query tests, sent as IPFIX the way a router exports them.

Clients in 10.1.0.0/16 and 2001:db8:1::/48 talk to servers in 198.51.100.0/24, 203.0.113.0/24 and
2001:db8:2::/48 over TCP, UDP, ICMP and ICMPv6; popular ports and a long tail; interfaces 1-8, AS numbers,
TOS, TCP flags; two observation domains (two exporters to nfdump); start and end times spread over a window.
Deterministic for a seed. Each record is a dict with the fields a reference needs.
"""
import ipaddress
import random
import socket
import struct

V4_FIELDS = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (2, 8), (1, 8), (10, 4), (14, 4), (5, 1), (6, 1),
             (16, 4), (17, 4), (152, 8), (153, 8)]
V6_FIELDS = [(27, 16), (28, 16)] + V4_FIELDS[2:]
PORTS = [443, 443, 443, 80, 53, 53, 22, 445, 3389, 123, 8080, 25]


def make_flows(seed, count, start_s, span_s):
    rng = random.Random(seed)
    clients4 = [f"10.1.{rng.randint(0, 3)}.{rng.randint(1, 254)}" for _ in range(60)]
    clients6 = [f"2001:db8:1::{rng.randint(1, 0xfff):x}" for _ in range(15)]
    servers4 = [f"198.51.100.{rng.randint(1, 254)}" for _ in range(25)] + \
               [f"203.0.113.{rng.randint(1, 254)}" for _ in range(15)]
    servers6 = [f"2001:db8:2::{rng.randint(1, 0xfff):x}" for _ in range(10)]
    flows = []
    for _ in range(count):
        v6 = rng.random() < 0.2
        client = rng.choice(clients6 if v6 else clients4)
        server = rng.choice(servers6 if v6 else servers4)
        proto = rng.choices([6, 17, 58 if v6 else 1], [6, 3, 1])[0]
        if proto in (1, 58):
            sport, dport = 0, 0
        else:
            dport = rng.choice(PORTS) if rng.random() < 0.85 else rng.randint(1, 65535)
            sport = rng.randint(1024, 65535)
        outbound = rng.random() < 0.8
        src, dst = (client, server) if outbound else (server, client)
        if not outbound:
            sport, dport = dport, sport
        packets = max(1, int(rng.lognormvariate(2, 1.5)))
        size = rng.randint(40, 1500)
        start_ms = (start_s + rng.uniform(0, span_s)) * 1000
        start_ms = int(start_ms)
        end_ms = start_ms + int(rng.expovariate(1 / 4000)) if packets > 1 else start_ms
        flows.append({
            "src": src, "dst": dst, "sport": sport, "dport": dport, "proto": proto, "packets": packets,
            "bytes": packets * size, "in_if": rng.randint(1, 8), "out_if": rng.randint(1, 8),
            "tos": rng.choice([0, 0, 0, 8, 46]), "flags": rng.choice([0x1b, 0x12, 0x02, 0x18, 0x11]) if proto == 6 else 0,
            "src_as": 0 if src.startswith(("10.", "2001:db8:1:")) else rng.choice([64500, 64501, 15169]),
            "dst_as": 0 if dst.startswith(("10.", "2001:db8:1:")) else rng.choice([64500, 64501, 15169]),
            "start_ms": start_ms, "end_ms": end_ms, "domain": rng.choice([1, 2]),
        })
    return flows


def _template_set(template_id, fields):
    body = struct.pack("!HH", template_id, len(fields)) + b"".join(struct.pack("!HH", i, l) for i, l in fields)
    return struct.pack("!HH", 2, 4 + len(body)) + body


def _record(f):
    v6 = ":" in f["src"]
    addresses = ipaddress.ip_address(f["src"]).packed + ipaddress.ip_address(f["dst"]).packed
    return addresses + struct.pack("!HHBQQIIBBIIQQ", f["sport"], f["dport"], f["proto"], f["packets"], f["bytes"],
                                   f["in_if"], f["out_if"], f["tos"], f["flags"], f["src_as"], f["dst_as"],
                                   f["start_ms"], f["end_ms"]), v6


def datagrams(flows, export_time, per_datagram=20):
    """IPFIX messages per observation domain, templates in the first message of each and every 50th."""
    out = []
    for domain in (1, 2):
        mine = [f for f in flows if f["domain"] == domain]
        seq = 0
        for n, at in enumerate(range(0, len(mine), per_datagram)):
            chunk = mine[at:at + per_datagram]
            sets = b""
            if n % 50 == 0:
                sets += _template_set(300, V4_FIELDS) + _template_set(301, V6_FIELDS)
            for template_id, want_v6 in ((300, False), (301, True)):
                body = b"".join(r for r, v6 in map(_record, chunk) if v6 == want_v6)
                if body:
                    sets += struct.pack("!HH", template_id, 4 + len(body)) + body
            out.append(struct.pack("!HHIII", 10, 16 + len(sets), export_time, seq, domain) + sets)
            seq += len(chunk)
    return out


def send(port, flows, export_time, pace=200):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        for i, d in enumerate(datagrams(flows, export_time)):
            s.sendto(d, ("127.0.0.1", port))
            if i % pace == pace - 1:
                import time
                time.sleep(0.02)  # a live exporter's pace: the receive buffer never overflows
