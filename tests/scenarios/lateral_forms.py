#!/usr/bin/env python3
"""The same flow records in the other two forms flowguard reads: a span-port capture (one Ethernet/IPv4/TCP or
UDP frame per ~64 KiB of a record, headers captured, the IP total length carrying the bytes, nanosecond pcap)
that `flowguard analyze` meters back into the same one-way flows, and IPFIX export datagrams in a capture
(template 256 sent first and every 20 messages) that it decodes. Also sends IPFIX over UDP to a live collector.

Usage: lateral_forms.py flows.jsonl --pcap traffic.pcap --ipfix-pcap export.pcap
"""
import argparse, json, socket, struct

FRAME_BYTES = 65_000  # the most one IPv4 packet can say; a bigger record becomes several frames
TEMPLATE_ID = 256
# sourceIPv4Address, destinationIPv4Address, sourceTransportPort, destinationTransportPort, protocolIdentifier,
# octetDeltaCount, packetDeltaCount, flowStartMilliseconds, flowEndMilliseconds
FIELDS = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 8), (2, 8), (152, 8), (153, 8)]
RECORD = struct.Struct(">4s4sHHBQQQQ")
PROTO = {"TCP": 6, "UDP": 17}


def records(path):
    with open(path) as f:
        for line in f:
            yield json.loads(line)


def frames_of(r):
    """(time_ns, frame, wire length) per frame of one record."""
    proto = PROTO[r["proto"]]
    src, dst = socket.inet_aton(r["src_addr"]), socket.inet_aton(r["dst_addr"])
    remaining, n, t = r["bytes"], 0, r["time_flow_start_ns"]
    while remaining > 0 or n == 0:
        size = max(40, min(FRAME_BYTES, remaining))
        remaining -= size
        if proto == 6:
            flags = 0x02 if n == 0 else 0x10
            l4 = struct.pack(">HHIIBBHHH", r["src_port"], r["dst_port"], n, 0, 0x50, flags, 65535, 0, 0)
        else:
            l4 = struct.pack(">HHHH", r["src_port"], r["dst_port"], max(8, size - 20), 0)
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, size, n & 0xFFFF, 0, 64, proto, 0, src, dst)
        frame = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + l4
        yield t + n * 1000, frame, 14 + size
        n += 1


def write_traffic_pcap(flows, path):
    frames = []
    for r in records(flows):
        frames.extend(frames_of(r))
    frames.sort(key=lambda f: f[0])
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1))  # nanosecond pcap, Ethernet
        for t, frame, wire in frames:
            f.write(struct.pack("<IIII", t // 1_000_000_000, t % 1_000_000_000, len(frame), wire) + frame)


def ipfix_messages(flows, per_message=20, domain=7):
    template = struct.pack(">HH", TEMPLATE_ID, len(FIELDS)) + b"".join(struct.pack(">HH", i, l) for i, l in FIELDS)
    template_set = struct.pack(">HH", 2, 4 + len(template)) + template
    batch, seq, count = [], 0, 0
    for r in records(flows):
        batch.append(r)
        if len(batch) == per_message:
            yield message(batch, seq, count, domain, template_set)
            seq += len(batch)
            count += 1
            batch = []
    if batch:
        yield message(batch, seq, count, domain, template_set)


def message(batch, seq, count, domain, template_set):
    body = b"".join(RECORD.pack(socket.inet_aton(r["src_addr"]), socket.inet_aton(r["dst_addr"]), r["src_port"],
                                r["dst_port"], PROTO[r["proto"]], r["bytes"], r["packets"],
                                r["time_flow_start_ns"] // 1_000_000, r["time_flow_end_ns"] // 1_000_000)
                    for r in batch)
    data_set = struct.pack(">HH", TEMPLATE_ID, 4 + len(body)) + body
    sets = (template_set if count % 20 == 0 else b"") + data_set
    export_s = batch[-1]["time_flow_end_ns"] // 1_000_000_000
    return export_s, struct.pack(">HHIII", 10, 16 + len(sets), export_s, seq, domain) + sets


def write_ipfix_pcap(flows, path):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, (export_s, p) in enumerate(ipfix_messages(flows)):
            udp = struct.pack(">HHHH", 40000, 4739, 8 + len(p), 0) + p
            ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0,
                             socket.inet_aton("192.0.2.1"), socket.inet_aton("192.0.2.2")) + udp
            frame = b"\x00" * 12 + b"\x08\x00" + ip
            f.write(struct.pack("<IIII", export_s, 0, len(frame), len(frame)) + frame)


def send_ipfix(flows, port, pace_every=200):
    """To a live collector on 127.0.0.1; a short pause now and then so its socket buffer keeps up."""
    import time
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i, (_, p) in enumerate(ipfix_messages(flows)):
            s.sendto(p, ("127.0.0.1", port))
            if i % pace_every == pace_every - 1:
                time.sleep(0.02)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("flows")
    ap.add_argument("--pcap")
    ap.add_argument("--ipfix-pcap")
    a = ap.parse_args()
    if a.pcap:
        write_traffic_pcap(a.flows, a.pcap)
    if a.ipfix_pcap:
        write_ipfix_pcap(a.flows, a.ipfix_pcap)
