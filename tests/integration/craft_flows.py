#!/usr/bin/python3
"""Crafts a pcap of many one-way flows (TCP, UDP, ICMP, ICMPv6; IPv4 and IPv6) with scapy, and returns
the ground truth per unidirectional 5-tuple: packets, layer-3 bytes, first and last packet time.

Deterministic for a given seed, so a failure can be replayed with the same seed.
"""
import random
from dataclasses import dataclass, field

from scapy.all import ICMP, IP, TCP, UDP, Ether, ICMPv6EchoReply, ICMPv6EchoRequest, IPv6, Raw, wrpcap

BASE_TIME = 1_709_294_400.0  # 2024-03-01T12:00:00Z


@dataclass
class Truth:
    packets: int = 0
    l3_bytes: int = 0
    first: float = 0.0
    last: float = 0.0


@dataclass
class Scenario:
    frames: list = field(default_factory=list)
    truth: dict = field(default_factory=dict)  # (src, dst, sport, dport_or_icmp, proto) -> Truth

    def add(self, frame, when, key):
        frame.time = when
        self.frames.append(frame)
        l3 = frame.payload
        t = self.truth.setdefault(key, Truth(first=when))
        t.packets += 1
        t.l3_bytes += len(bytes(l3))
        t.first = min(t.first, when)
        t.last = max(t.last, when)


def _addr(rng, v6, net):
    if v6:
        return f"2001:db8:{net:x}::{rng.randint(1, 0xfffe):x}"
    return f"10.{net}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def _ip(src, dst, v6):
    return IPv6(src=src, dst=dst) if v6 else IP(src=src, dst=dst)


def craft(seed, flows=240, span_seconds=90.0, ipv6=True):
    rng = random.Random(seed)
    sc = Scenario()
    used = set()
    mac = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    for i in range(flows):
        v6 = ipv6 and rng.random() < 0.35
        kind = rng.choice(["tcp", "tcp", "udp", "udp", "icmp"])
        client, server = _addr(rng, v6, 1), _addr(rng, v6, 2)
        start = BASE_TIME + rng.uniform(0, span_seconds)
        # Whole milliseconds plus a sub-ms part: exporters keep ms, and the sub-ms part must be truncated.
        gap = lambda: rng.uniform(0.001, 0.8)
        t = start
        if kind == "tcp":
            sport, dport = rng.randint(1024, 65000), rng.choice([22, 80, 443, 445, 3389, 8080])
            if (client, server, sport, dport) in used:
                continue
            used.add((client, server, sport, dport))
            fwd = (client, server, sport, dport, 6)
            rev = (server, client, dport, sport, 6)
            ip_f, ip_r = _ip(client, server, v6), _ip(server, client, v6)
            sc.add(mac / ip_f / TCP(sport=sport, dport=dport, flags="S", seq=1000), t, fwd); t += gap()
            sc.add(mac / ip_r / TCP(sport=dport, dport=sport, flags="SA", seq=5000, ack=1001), t, rev); t += gap()
            sc.add(mac / ip_f / TCP(sport=sport, dport=dport, flags="A", seq=1001, ack=5001), t, fwd); t += gap()
            for _ in range(rng.randint(1, 12)):
                size = rng.randint(1, 1400)
                if rng.random() < 0.5:
                    sc.add(mac / ip_f / TCP(sport=sport, dport=dport, flags="PA") / Raw(b"x" * size), t, fwd)
                else:
                    sc.add(mac / ip_r / TCP(sport=dport, dport=sport, flags="PA") / Raw(b"y" * size), t, rev)
                t += gap()
            sc.add(mac / ip_f / TCP(sport=sport, dport=dport, flags="FA"), t, fwd); t += gap()
            sc.add(mac / ip_r / TCP(sport=dport, dport=sport, flags="FA"), t, rev); t += gap()
            sc.add(mac / ip_f / TCP(sport=sport, dport=dport, flags="A"), t, fwd)
        elif kind == "udp":
            sport, dport = rng.randint(1024, 65000), rng.choice([53, 123, 161, 514, 5060, 33434])
            if (client, server, sport, dport) in used:
                continue
            used.add((client, server, sport, dport))
            for _ in range(rng.randint(1, 6)):
                sc.add(mac / _ip(client, server, v6) / UDP(sport=sport, dport=dport) / Raw(b"q" * rng.randint(0, 512)),
                       t, (client, server, sport, dport, 17))
                t += gap()
                if rng.random() < 0.7:
                    sc.add(mac / _ip(server, client, v6) / UDP(sport=dport, dport=sport) / Raw(b"r" * rng.randint(0, 900)),
                           t, (server, client, dport, sport, 17))
                    t += gap()
        else:
            if (client, server, "icmp") in used:
                continue
            used.add((client, server, "icmp"))
            ident = rng.randint(1, 65000)
            for seq in range(rng.randint(1, 5)):
                if v6:
                    sc.add(mac / IPv6(src=client, dst=server) / ICMPv6EchoRequest(id=ident, seq=seq) / Raw(b"p" * 56),
                           t, (client, server, 0, 128 * 256, 58))
                    t += gap()
                    sc.add(mac / IPv6(src=server, dst=client) / ICMPv6EchoReply(id=ident, seq=seq) / Raw(b"p" * 56),
                           t, (server, client, 0, 129 * 256, 58))
                else:
                    sc.add(mac / IP(src=client, dst=server) / ICMP(type=8, id=ident, seq=seq) / Raw(b"p" * 56),
                           t, (client, server, 0, 8 * 256, 1))
                    t += gap()
                    sc.add(mac / IP(src=server, dst=client) / ICMP(type=0, id=ident, seq=seq) / Raw(b"p" * 56),
                           t, (server, client, 0, 0, 1))
                t += gap()
    sc.frames.sort(key=lambda f: f.time)
    return sc


def write(scenario, path):
    wrpcap(path, scenario.frames)


if __name__ == "__main__":
    import sys
    sc = craft(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    write(sc, sys.argv[1])
    print(f"{len(sc.frames)} packets, {len(sc.truth)} one-way flows")
