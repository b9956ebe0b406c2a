#!/usr/bin/python3
"""sFlow v5 decoding against two independent decoders, tshark and sfcapd (nfdump-sflow).

Inputs: real agent captures (tests/fixtures/akvorado/sflow: switches with 1-in-256..4096 sampling, expanded
samples, IPv4-data records, QinQ, VXLAN, ICMP/ICMPv6, discarded and multiple outputs), pmacctd 1.7.7's sfprobe
export of the crafted corpus (tests/fixtures/corpus/pmacctd_sflow_*.pcap), and datagrams this script crafts
for what those lack (sampled IPv4/IPv6 records without a header, extended router/gateway, counter samples,
expanded counter samples).

- tshark: every flow sample, in order, must give the same addresses, ports, protocol, frame length, sampling
  rate, interfaces and VLAN; every generic interface counter set the same counters.
- sfcapd: the datagrams are sent to a real sfcapd on 127.0.0.1; `nfdump -R` must hold the same flows with
  packets and bytes scaled by the sampling rate, as sfcapd stores them.
Intended differences (documented in docs/COLLECTOR.md): a discarded or multi-interface output is out_if 0
in flowguard (with forwarding_status 128 for a discard), where sfcapd keeps the raw 30-bit value; with QinQ
flowguard reports the outer VLAN, sfcapd the inner one.
"""
import argparse
import glob
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, run_case, start_nfdump_collector, stop_nfdump_collector  # noqa: E402

UNKNOWN_IF = 0x3FFFFFFF


# ---- crafted datagrams (XDR, sFlow v5 spec) ----
def xdr(*words):
    return b"".join(struct.pack(">I", w) for w in words)


def record(fmt, body):
    return xdr(fmt, len(body)) + body


def flow_sample(seq, rate, in_if, out_if, records):
    body = xdr(seq, 7, rate, seq * rate, 0, in_if, out_if, len(records)) + b"".join(records)
    return record(1, body)


def ipv4_data(length, proto, src, dst, sport, dport, flags, tos):
    return record(3, xdr(length, proto) + socket.inet_aton(src) + socket.inet_aton(dst) + xdr(sport, dport, flags, tos))


def ipv6_data(length, proto, src, dst, sport, dport, flags, prio):
    return record(4, xdr(length, proto) + socket.inet_pton(socket.AF_INET6, src) +
                  socket.inet_pton(socket.AF_INET6, dst) + xdr(sport, dport, flags, prio))


def extended_router(next_hop, src_mask, dst_mask):
    return record(1002, xdr(1) + socket.inet_aton(next_hop) + xdr(src_mask, dst_mask))


def extended_gateway(next_hop, own_as, src_as, peer_as, path):
    body = xdr(1) + socket.inet_aton(next_hop) + xdr(own_as, src_as, peer_as, 1, 2, len(path), *path) + xdr(0, 100)
    return record(1003, body)


def if_counters(index, speed, in_oct, out_oct, base):
    body = xdr(index, 6) + struct.pack(">Q", speed) + xdr(1, 3) + struct.pack(">Q", in_oct)
    body += xdr(base, base + 1, base + 2, base + 3, base + 4, base + 5) + struct.pack(">Q", out_oct)
    body += xdr(base + 10, base + 11, base + 12, base + 13, base + 14, 0)
    return record(1, body)


def counter_sample(seq, index, counters, expanded=False):
    source = xdr(0, index) if expanded else xdr(index)
    return record(4 if expanded else 2, xdr(seq) + source + xdr(1) + counters)


def datagram(agent, seq, uptime, samples):
    return xdr(5, 1) + socket.inet_aton(agent) + xdr(3, seq, uptime, len(samples)) + b"".join(samples)


def crafted_datagrams():
    return [
        datagram("192.0.2.1", 1, 60_000, [
            flow_sample(1, 512, 3, 4, [ipv4_data(1500, 6, "10.9.0.1", "203.0.113.9", 40000, 443, 0x18, 0),
                                       extended_router("10.9.0.254", 24, 16),
                                       extended_gateway("198.51.100.1", 64500, 64501, 64502, [64510, 64511, 64512])]),
            flow_sample(2, 512, 4, 3, [ipv6_data(1280, 17, "2001:db8::1", "2001:db8:1::53", 5353, 53, 0, 0)]),
            counter_sample(7, 3, if_counters(3, 10_000_000_000, 123_456_789_012, 98_765_432_109, 1000)),
        ]),
        datagram("192.0.2.1", 2, 61_000, [
            counter_sample(8, 4, if_counters(4, 1_000_000_000, 5_000_000, 6_000_000, 2000), expanded=True),
        ]),
    ]


def write_pcap(path, payloads, dport=6343):
    """A pcap of Ethernet/IPv4/UDP frames carrying the payloads (no scapy needed for writing)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, p in enumerate(payloads):
            udp = struct.pack(">HHHH", 40000, dport, 8 + len(p), 0) + p
            ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0,
                             socket.inet_aton("127.0.0.1"), socket.inet_aton("127.0.0.1")) + udp
            frame = b"\x00" * 12 + b"\x08\x00" + ip
            f.write(struct.pack("<IIII", 1_700_000_000 + i, 0, len(frame), len(frame)) + frame)


def udp_payloads(pcap):
    from scapy.all import UDP, rdpcap
    return [bytes(p[UDP].payload) for p in rdpcap(pcap) if UDP in p]


# ---- tshark ----
def first(node, name):
    for f in node.iter("field"):
        if f.get("name") == name:
            return f.get("show")
    return None


def tshark_samples(pcap):
    """Flow samples (in order) and counter sets, from tshark's PDML."""
    out = subprocess.run(["tshark", "-r", pcap, "-d", "udp.port==1-65535,sflow", "-T", "pdml"],
                         capture_output=True, text=True, check=True).stdout
    flows, counters = [], []
    for proto in ET.fromstring(out).iter("proto"):
        if proto.get("name") != "sflow":
            continue
        for sample in proto.findall("field"):
            title = sample.get("show") or ""
            if "flow sample" in title.lower():
                flows.append(tshark_flow(sample))
            elif "counters sample" in title.lower():
                c = tshark_counters(sample)
                if c:
                    counters.append(c)
    return flows, counters


def interface_of(sample, direction):
    """(format, value) of the input or output interface, compact or expanded."""
    fmt = first(sample, f"sflow.flow_sample.{direction}_interface_format")
    value = first(sample, f"sflow.flow_sample.{direction}_interface_value")
    if value is not None:
        return int(fmt or 0), int(value)
    raw = first(sample, f"sflow.flow_sample.{direction}_interface")
    raw = int(raw, 0) if raw is not None else 0
    return raw >> 30, raw & UNKNOWN_IF


def tshark_flow(sample):
    src = first(sample, "ip.src") or first(sample, "ipv6.src") or first(sample, "sflow_245.ipv4_src") or \
        first(sample, "sflow_245.ipv6_src")
    dst = first(sample, "ip.dst") or first(sample, "ipv6.dst") or first(sample, "sflow_245.ipv4_dst") or \
        first(sample, "sflow_245.ipv6_dst")
    proto = first(sample, "ip.proto") or first(sample, "sflow.ip_protocol")
    if proto is None:  # IPv6: the last next-header before the transport
        nxt = [f.get("show") for f in sample.iter("field") if f.get("name") in ("ipv6.nxt", "ipv6.opt.nxt")]
        proto = nxt[-1] if nxt else None
    sport = first(sample, "tcp.srcport") or first(sample, "udp.srcport") or first(sample, "sflow_245.ip.source_port")
    dport = first(sample, "tcp.dstport") or first(sample, "udp.dstport") or first(sample, "sflow.ip.destination_port")
    length = first(sample, "sflow_245.header.frame_length") or first(sample, "sflow_245.ip.length")
    vlan = int(first(sample, "sflow_245.vlan.in") or first(sample, "vlan.id") or 0)
    # tshark shows BGP communities under the same field name as the AS path, after it.
    as_path = [int(f.get("show")) for f in sample.iter("field") if f.get("name") == "sflow_245.dstAS"]
    as_path = as_path[:len(as_path) - int(first(sample, "sflow_245.communityEntries") or 0)]
    in_fmt, in_val = interface_of(sample, "input")
    out_fmt, out_val = interface_of(sample, "output")
    return {
        "src": src, "dst": dst, "proto": int(proto) if proto is not None else None,
        "sport": int(sport or 0), "dport": int(dport or 0), "bytes": int(length or 0),
        "rate": int(first(sample, "sflow.flow_sample.sampling_rate") or 0),
        "in_if": in_val if in_fmt == 0 and in_val != UNKNOWN_IF else 0,
        "out_if": out_val if out_fmt == 0 and out_val != UNKNOWN_IF else 0,
        "discard": out_fmt == 1, "vlan": vlan if vlan <= 4095 else 0,
        "src_mask": int(first(sample, "sflow_245.nexthop.src_mask") or 0),
        "dst_mask": int(first(sample, "sflow_245.nexthop.dst_mask") or 0),
        "src_as": int(first(sample, "sflow_245.srcAS") or 0), "dst_as": as_path[-1] if as_path else 0,
    }


def tshark_counters(sample):
    index = first(sample, "sflow_245.ifindex")
    if index is None:
        return None
    n = lambda name: int(first(sample, f"sflow_245.{name}") or 0)  # noqa: E731
    return {"if_index": int(index), "speed_bps": n("ifspeed"), "in_octets": n("ifinoct"), "out_octets": n("ifoutoct"),
            "in_packets": n("ifinpkt") + n("ifinmcast") + n("ifinbcast"), "in_errors": n("ifinerr"),
            "in_discards": n("ifindisc"), "out_packets": n("ifoutpkt") + n("ifoutmcast") + n("ifoutbcast"),
            "out_errors": n("ifouterr"), "out_discards": n("ifoutdisc")}


# ---- flowguard ----
def flowguard_decode(flowguard, pcap):
    res = subprocess.run([flowguard, "decode", "--format", "json", pcap], capture_output=True, text=True, check=True)
    summary = json.loads(res.stderr.strip().splitlines()[-1])
    return [json.loads(line) for line in res.stdout.splitlines()], summary


def mask_of(net):
    return int(net.split("/")[1]) if "/" in net else 0


def ours_flow(r):
    proto = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMPv6": 58}.get(r["proto"], r["proto"])
    icmp = proto in (1, 58)
    return {"src": r["src_addr"], "dst": r["dst_addr"], "proto": int(proto),
            "sport": 0 if icmp else r["src_port"], "dport": 0 if icmp else r["dst_port"], "bytes": r["bytes"],
            "rate": r["sampling_rate"], "in_if": r["in_if"], "out_if": r["out_if"],
            "discard": r["forwarding_status"] == 128, "vlan": r["src_vlan"], "src_mask": mask_of(r["src_net"]),
            "dst_mask": mask_of(r["dst_net"]), "src_as": r["src_as"], "dst_as": r["dst_as"]}


def compare_with_tshark(flowguard, pcap):
    name = os.path.basename(pcap)
    theirs, their_counters = tshark_samples(pcap)
    records, summary = flowguard_decode(flowguard, pcap)
    ours = [ours_flow(r) for r in records]
    for t in theirs:
        if t["proto"] in (1, 58):
            t["sport"] = t["dport"] = 0
    check(summary["decode_errors"] == 0, f"{name}: decode errors {summary['decode_errors']}")
    check(len(ours) == len(theirs), f"{name}: flowguard {len(ours)} flow samples, tshark {len(theirs)}")
    bad = [(i, a, b) for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
    for i, a, b in bad[:3]:
        print(f"  {name} sample {i}: flowguard {a}\n  {' ' * len(name)}          tshark    {b}")
    check(not bad, f"{name}: {len(bad)} flow samples differ from tshark")
    keys = ("if_index", "speed_bps", "in_octets", "out_octets", "in_packets", "in_errors", "in_discards",
            "out_packets", "out_errors", "out_discards")
    ours_counters = sorted(({k: i[k] for k in keys} for i in summary["interfaces"]), key=lambda c: c["if_index"])
    # tshark shows every counter sample; flowguard keeps the newest per interface.
    newest = {c["if_index"]: c for c in their_counters}
    check(ours_counters == sorted(newest.values(), key=lambda c: c["if_index"]),
          f"{name}: interface counters differ: flowguard {ours_counters} tshark {list(newest.values())}")
    return len(ours), len(ours_counters), records


# ---- sfcapd ----
def sfcapd_records(payloads, workdir):
    proc, port, nfdir = start_nfdump_collector("sfcapd", workdir)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for p in payloads:
            s.sendto(p, ("127.0.0.1", port))
            time.sleep(0.001)  # no burst beyond sfcapd's socket buffer
    stop_nfdump_collector(proc)
    res = subprocess.run(["nfdump", "-R", nfdir, "-o", "json"], capture_output=True, text=True, check=True,
                         env=dict(os.environ, TZ="UTC"))
    out = Counter()
    for r in json.loads(res.stdout or "[]"):
        proto = r["proto"]
        icmp = proto in (1, 58)
        out[(r.get("src4_addr") or r.get("src6_addr"), r.get("dst4_addr") or r.get("dst6_addr"),
             0 if icmp else r.get("src_port", 0), 0 if icmp else r.get("dst_port", 0), proto,
             r["in_packets"], r["in_bytes"], r.get("input_snmp", 0) % UNKNOWN_IF)] += 1
    return out


def ours_scaled(records):
    out = Counter()
    for r in records:
        f = ours_flow(r)
        rate = max(1, f["rate"])
        out[(f["src"], f["dst"], f["sport"], f["dport"], f["proto"], rate, f["bytes"] * rate, f["in_if"])] += 1
    return out


def run(flowguard, fixtures, workdir):
    crafted = os.path.join(workdir, "crafted-sflow.pcap")
    write_pcap(crafted, crafted_datagrams())
    captures = sorted(glob.glob(os.path.join(fixtures, "akvorado", "sflow", "*.pcap")))
    captures += sorted(glob.glob(os.path.join(fixtures, "corpus", "pmacctd_sflow_*.pcap")))
    captures.append(crafted)
    all_records, payloads, samples, interfaces = [], [], 0, 0
    for pcap in captures:
        n, k, records = compare_with_tshark(flowguard, pcap)
        samples += n
        interfaces += k
        # sfcapd 1.7.1 reads no addresses from sampled IPv4/IPv6 records (0.0.0.0), and where a sample carries
        # both a raw header and such a record it takes that record's IP length as bytes, where flowguard (like
        # tshark and goflow2) keeps the frame length: those two inputs are checked against tshark only.
        if pcap != crafted and not pcap.endswith("data-sflow-ipv4-data.pcap"):
            all_records += records
            payloads += udp_payloads(pcap)
    check(interfaces >= 3, f"only {interfaces} interface counter sets compared")
    print(f"tshark: {samples} flow samples and {interfaces} interface counter sets agree over {len(captures)} captures")

    theirs = sfcapd_records(payloads, workdir)
    ours = ours_scaled(all_records)
    check(ours == theirs, f"sfcapd: only flowguard {list((ours - theirs).items())[:4]}, "
                          f"only sfcapd {list((theirs - ours).items())[:4]}")
    print(f"sfcapd: {sum(ours.values())} flows agree (packets and bytes scaled by the sampling rate)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowguard", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    for tool in ("tshark", "sfcapd", "nfdump"):
        if not shutil.which(tool):
            print(f"FAIL: {tool} is not installed (run ./deploy/setup.sh)\n0 passed, 1 failed")
            return 1
    return run_case("sflow", lambda w: run(os.path.abspath(args.flowguard), args.fixtures, w), args.keep)


if __name__ == "__main__":
    sys.exit(main())
