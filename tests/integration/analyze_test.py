#!/usr/bin/python3
"""flowguard analyze on captures: the corpus beacon capture as raw traffic (metered) and as softflowd/pmacctd
exports of the same traffic (decoded) must raise the beacon alert for 10.1.1.50 -> 198.51.100.77:443 and
nothing about the irregular noise host; the SUNBURST names as DNS events raise sunburst_dns alerts; DNS
messages whose transaction id reads as an export version reach passive DNS.

Usage: analyze_test.py --flowguard BIN --fixtures DIR --shared-exports DIR(optional)
"""
import argparse, json, os, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, run_case  # noqa: E402


def analyze(flowguard, *inputs):
    res = subprocess.run([flowguard, "analyze", *inputs], capture_output=True, text=True, check=True)
    return [json.loads(l) for l in res.stdout.splitlines() if l.strip()], json.loads(res.stderr.strip().splitlines()[-1])


def run(flowguard, fixtures, workdir):
    for name in ["corpus/beacon.pcap", "corpus/beacon-softflowd-ipfix.pcap", "corpus/beacon-pmacctd-v9.pcap"]:
        alerts, summary = analyze(flowguard, os.path.join(fixtures, name))
        beacons = [a for a in alerts if a["kind"] == "beacon"]
        check(len(beacons) == 1 and beacons[0]["src_addr"] == "10.1.1.50" and beacons[0]["dst_addr"] == "198.51.100.77",
              f"{name}: one beacon 10.1.1.50 -> 198.51.100.77 expected, got {[(a['kind'], a['src_addr'], a['dst_addr']) for a in alerts]}")
        if beacons:
            e = beacons[0]["evidence"]
            check(50 <= e["median_interval_s"] <= 70, f"{name}: median interval {e['median_interval_s']} (60 s ± 5%)")
            check(beacons[0]["techniques"][0] == "T1071.001", f"{name}: ATT&CK id")
        check(len(alerts) == 1, f"{name}: no other alert expected, got {len(alerts)}")
        print(f"{name}: beacon found ({summary['flows']} flows, {summary['export_datagrams']} export datagrams)")
    # SUNBURST names as a DNS log: one client, through a resolver.
    names = open(os.path.join(fixtures, "sunburst/bambenek-uniq-hostnames.txt")).read().split()[:200]
    log = os.path.join(workdir, "dns.jsonl")
    with open(log, "w") as out:
        for i, n in enumerate(names):
            t = 1_600_000_000_000_000_000 + i * 1_800_000_000_000
            out.write(json.dumps({"time_ns": t, "type": "query", "client": "10.9.9.9", "server": "10.0.0.53", "qname": n}) + "\n")
    alerts, _ = analyze(flowguard, log)
    kinds = {a["kind"] for a in alerts}
    check({"sunburst_dns", "ioc_domain"} <= kinds, f"SUNBURST names: kinds {kinds}")
    check(all(a["src_addr"] == "10.9.9.9" for a in alerts), "SUNBURST alerts name the client")
    check(any(a["kind"] == "sunburst_dns" and a["severity"] == "critical" and "T1195.002" in a["techniques"]
              for a in alerts), "sunburst_dns is critical with T1195.002")
    print(f"SUNBURST names: {len(alerts)} alerts, kinds {sorted(kinds)}")
    dns_ids_that_read_as_versions(flowguard, workdir)


def dns_ids_that_read_as_versions(flowguard, workdir):
    """A DNS message's transaction id sits where an export has its version: ids 5, 9 and 10 must still reach
    passive DNS, not the flow decoder (analyze once took id 9 for NetFlow v9, 1 query in ~22,000)."""
    from scapy.all import DNS, DNSQR, DNSRR, IP, UDP, Ether, wrpcap
    packets, t = [], 1_600_000_000.0
    for i, ident in enumerate([5, 9, 10, 0x1234]):
        name = f"host{i}.example.com"
        q = Ether() / IP(src="10.1.1.7", dst="10.0.0.53") / UDP(sport=40000 + i, dport=53) / DNS(id=ident, rd=1, qd=DNSQR(qname=name))
        r = Ether() / IP(src="10.0.0.53", dst="10.1.1.7") / UDP(sport=53, dport=40000 + i) / DNS(
            id=ident, qr=1, rd=1, ra=1, qd=DNSQR(qname=name), an=DNSRR(rrname=name, rdata="198.51.100.9", ttl=60))
        q.time, r.time = t + i, t + i + 0.01
        packets += [q, r]
    pcap = os.path.join(workdir, "dns_ids.pcap")
    wrpcap(pcap, packets)
    _, summary = analyze(flowguard, pcap)
    check(summary["export_datagrams"] == 0, f"DNS ids 5/9/10: {summary['export_datagrams']} datagrams taken for exports")
    check(summary["dns_events"] == 8, f"DNS ids 5/9/10: {summary['dns_events']} of 8 DNS messages reached passive DNS")
    print(f"DNS ids 5, 9, 10: {summary['dns_events']} DNS events, {summary['export_datagrams']} export datagrams")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowguard", required=True)
    ap.add_argument("--fixtures", required=True)
    args = ap.parse_args()
    return run_case("analyze_captures", lambda w: run(os.path.abspath(args.flowguard), args.fixtures, w), False)


if __name__ == "__main__":
    sys.exit(main())
