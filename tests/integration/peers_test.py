#!/usr/bin/python3
"""Integration tests against real peers on 127.0.0.1 (see README.md beside this file).

decode_vs_nfdump: scapy crafts a pcap; softflowd exports it as NetFlow v5, v9 (relative and absolute
  times) and IPFIX (absolute and relative times) to a UDP port where tshark captures the datagrams and
  nfcapd collects them. `flowguard decode` of the capture must agree with `nfdump -R` on every record, and
  both with the crafted truth.
collect_live: softflowd -> `flowguard collect` on 127.0.0.1 gives the same records as `flowguard decode`
  of the same datagrams, and the stop summary accounts for them.
meter_vs_softflowd: `flowguard meter` on the crafted pcap and `softflowd -r` on the same pcap (IPFIX to
  nfcapd, read with nfdump) give the same one-way flows, packets and bytes; flowguard's times equal the truth.
"""
import argparse
import calendar
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import craft_flows  # noqa: E402
from harness import (check, free_udp_port, run_case, start_nfdump_collector, stop_nfdump_collector,  # noqa: E402
                     wait_for)

class Capture:
    """tshark (dumpcap) on lo, writing the export datagrams to one port into a pcap. The ring buffer is
    large so that softflowd's bursts are not dropped; drops are read back and must be zero."""

    def __init__(self, path, port, workdir):
        self.log = open(os.path.join(workdir, f"tshark-{port}.log"), "w+")
        self.proc = subprocess.Popen(["tshark", "-i", "lo", "-B", "64", "-s", "65535", "-F", "pcap",
                                      "-f", f"udp and dst port {port}", "-w", path],
                                     stdout=self.log, stderr=self.log)
        wait_for(lambda: "Capture started" in open(self.log.name).read(), 30, "tshark to start capturing")
        # dumpcap reports the capture started a moment before its socket sees packets; on a loaded machine
        # the first export datagrams were missed (0 packets captured), so give it time to settle.
        time.sleep(0.5)

    def stop(self):
        time.sleep(0.5)  # let the last datagrams reach the file before tshark is told to stop
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=30)

    def dropped(self):
        text = open(self.log.name).read()
        # tshark reports "N packets captured" and, when the kernel dropped some, "(N dropped)" or
        # "N packets dropped"; anything but zero is a drop.
        for line in text.splitlines():
            if "dropped" in line:
                digits = [int(w.strip("()")) for w in line.split() if w.strip("()").isdigit()]
                if digits and any(digits):
                    return max(digits)
        return 0


def softflowd_export(pcap, frames, port, version, extra, workdir):
    """Runs softflowd over a pcap (from its folder, relative name) and flushes every flow."""
    ctl = os.path.join(workdir, f"sf-{port}.ctl")
    pid = os.path.join(workdir, f"sf-{port}.pid")
    cmd = ["softflowd", "-d", "-r", os.path.basename(pcap), "-n", f"127.0.0.1:{port}", "-v", str(version), "-a",
           "-p", pid, "-c", ctl] + (["-6"] if version != 5 else []) + extra
    proc = subprocess.Popen(cmd, cwd=os.path.dirname(pcap), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: os.path.exists(ctl), 20, "softflowd control socket")

    def processed():
        out = subprocess.run(["softflowctl", "-c", ctl, "statistics"], capture_output=True, text=True).stdout
        done = 0
        for line in out.splitlines():
            if line.startswith("Packets processed:") or line.startswith("Ignored packets:"):
                done += int(line.split(":")[1].split()[0])
        return done >= frames

    wait_for(processed, 120, "softflowd to read the pcap")
    subprocess.run(["softflowctl", "-c", ctl, "shutdown"], capture_output=True)
    proc.wait(timeout=30)


def iso_ms(text):
    date, clock = text.split("T")
    hms, ms = (clock.split(".") + ["0"])[:2]
    t = time.strptime(f"{date}T{hms}", "%Y-%m-%dT%H:%M:%S")
    return calendar.timegm(t) * 1000 + int(ms.ljust(3, "0")[:3])


def flow_key(src, dst, sport, dport, proto, icmp_type, icmp_code):
    if proto in (1, 58):
        return (src, dst, 0, icmp_type * 256 + icmp_code, proto)
    return (src, dst, sport, dport, proto)


def flowguard_records(flowguard, capture, port):
    res = subprocess.run([flowguard, "decode", "--format", "json", "--port", str(port), capture],
                         capture_output=True, text=True, check=True)
    summary = json.loads(res.stderr.strip().splitlines()[-1])
    recs = {}
    for line in res.stdout.splitlines():
        r = json.loads(line)
        proto = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMPv6": 58}.get(r["proto"], r["proto"])
        key = flow_key(r["src_addr"], r["dst_addr"], r["src_port"], r["dst_port"], int(proto), r["icmp_type"],
                       r["icmp_code"])
        recs.setdefault(key, []).append((r["packets"], r["bytes"], r["time_flow_start_ns"] // 1_000_000,
                                         r["time_flow_end_ns"] // 1_000_000))
    return recs, summary, res.stdout.splitlines()


def nfdump_records(nfdir):
    res = subprocess.run(["nfdump", "-R", nfdir, "-o", "json"], capture_output=True, text=True, check=True,
                         env=dict(os.environ, TZ="UTC"))
    recs = {}
    for r in json.loads(res.stdout or "[]"):
        src = r.get("src4_addr") or r.get("src6_addr")
        dst = r.get("dst4_addr") or r.get("dst6_addr")
        key = flow_key(src, dst, r.get("src_port", 0), r.get("dst_port", 0), r["proto"], r.get("icmp_type", 0),
                       r.get("icmp_code", 0))
        recs.setdefault(key, []).append((r["in_packets"], r["in_bytes"], iso_ms(r["first"]), iso_ms(r["last"])))
    return recs


def compare(name, ours, theirs, time_tolerance_ms, compare_times=True, icmp6_type_unreliable=False):
    """Every record must match, key for key, on packets, bytes and (within tolerance) times."""
    def normalise(recs):
        out = {}
        for k, v in recs.items():
            if icmp6_type_unreliable and k[4] == 58:
                k = (k[0], k[1], 0, None, 58)
            out.setdefault(k, []).extend(v)
        return out
    ours, theirs = normalise(ours), normalise(theirs)
    check(set(ours) == set(theirs),
          f"{name}: flow keys differ: only flowguard {sorted(set(ours) - set(theirs))[:5]}, "
          f"only peer {sorted(set(theirs) - set(ours))[:5]}")
    bad = 0
    for k in set(ours) & set(theirs):
        a, b = sorted(ours[k]), sorted(theirs[k])
        if len(a) != len(b):
            bad += 1
            continue
        for x, y in zip(a, b):
            same = x[0] == y[0] and x[1] == y[1]
            if compare_times:
                same = same and abs(x[2] - y[2]) <= time_tolerance_ms and abs(x[3] - y[3]) <= time_tolerance_ms
            if not same:
                bad += 1
                if bad <= 5:
                    print(f"  {name}: {k}: flowguard {x} vs peer {y}")
    check(bad == 0, f"{name}: {bad} records disagree")
    return len(ours)


def truth_records(scenario, ipv4_only):
    """Per one-way flow: packets and bytes of that direction, but the times of the two-way conversation:
    softflowd tracks two-way flows and stamps both one-way records with the conversation's first/last.
    ICMP is the exception: softflowd keys it by type/code, so echo request and reply are separate flows."""
    conversations = {}
    for (src, dst, sport, dport, proto), t in scenario.truth.items():
        ends = frozenset([(src, sport if proto not in (1, 58) else 0), (dst, dport if proto not in (1, 58) else 0)])
        c = conversations.setdefault((ends, proto), [t.first, t.last])
        c[0], c[1] = min(c[0], t.first), max(c[1], t.last)
    recs = {}
    for (src, dst, sport, dport, proto), t in scenario.truth.items():
        if ipv4_only and ":" in src:
            continue
        ends = frozenset([(src, sport if proto not in (1, 58) else 0), (dst, dport if proto not in (1, 58) else 0)])
        first, last = (t.first, t.last) if proto in (1, 58) else conversations[(ends, proto)]
        # Exporters keep whole milliseconds, truncating.
        recs[(src, dst, sport, dport, proto)] = [(t.packets, t.l3_bytes, int(first * 1000), int(last * 1000))]
    return recs


VARIANTS = [
    # name, softflowd version, extra flags, time tolerance vs the crafted truth (ms), nfdump times exact?
    ("v5", 5, [], 1, True),
    ("v9-relative", 9, [], 1000, True),      # v9 headers carry whole seconds: +-1 s by design
    ("v9-absolute", 9, ["-A", "milli"], 1, True),
    ("ipfix-absolute", 10, ["-A", "milli"], 1, True),
    ("ipfix-relative", 10, [], 1, False),    # nfdump 1.7.1 is ~75 ms off and swaps first/last here
]


def run_decode_vs_nfdump(flowguard, workdir, seed):
    scenario = craft_flows.craft(seed)
    pcap = os.path.join(workdir, "crafted.pcap")
    craft_flows.write(scenario, pcap)
    print(f"seed {seed}: {len(scenario.frames)} packets, {len(scenario.truth)} one-way flows")
    for name, version, extra, tolerance, nfdump_times in VARIANTS:
        nfcapd, port, nfdir = start_nfdump_collector("nfcapd", workdir, f"nfcapd-{name}")
        capture_path = os.path.join(workdir, f"export-{name}.pcap")
        cap = Capture(capture_path, port, workdir)
        softflowd_export(pcap, len(scenario.frames), port, version, extra, workdir)
        cap.stop()
        check(cap.dropped() == 0, f"{name}: tshark dropped datagrams; the comparison would be unfair")
        stop_nfdump_collector(nfcapd)

        ours, summary, _ = flowguard_records(flowguard, capture_path, port)
        theirs = nfdump_records(nfdir)
        truth = truth_records(scenario, ipv4_only=(version == 5))
        n = compare(f"{name} flowguard vs nfdump", ours, theirs, 0, compare_times=nfdump_times,
                    icmp6_type_unreliable=(version == 9))
        compare(f"{name} flowguard vs crafted truth", ours, truth, tolerance)
        check(n >= 0.95 * len(truth), f"{name}: only {n} of {len(truth)} flows exported")
        check(summary["decode_errors"] == 0 and summary["unknown_template"] == 0 and summary["sequence_lost"] == 0,
              f"{name}: summary reports problems: {summary}")
        print(f"{name}: {n} flows agree (flowguard = nfdump = truth); summary records={summary['records']}")


def run_collect_live(flowguard, workdir, seed):
    scenario = craft_flows.craft(seed, flows=120)
    pcap = os.path.join(workdir, "crafted.pcap")
    craft_flows.write(scenario, pcap)
    for name, version, extra in [("ipfix", 10, ["-A", "milli"]), ("v9", 9, []), ("v5", 5, [])]:
        port = free_udp_port()
        out_path = os.path.join(workdir, f"collect-{name}.jsonl")
        err_path = os.path.join(workdir, f"collect-{name}.stderr")
        with open(err_path, "w") as err:
            collector = subprocess.Popen([flowguard, "collect", "--listen", f"udp://127.0.0.1:{port}",
                                          "--output", out_path], stdout=subprocess.DEVNULL, stderr=err)
        wait_for(lambda: "listening on" in open(err_path).read(), 20, "flowguard collect to listen")
        capture_path = os.path.join(workdir, f"live-{name}.pcap")
        cap = Capture(capture_path, port, workdir)
        softflowd_export(pcap, len(scenario.frames), port, version, extra, workdir)
        cap.stop()
        check(cap.dropped() == 0, f"collect {name}: tshark dropped datagrams")
        collector.send_signal(signal.SIGTERM)
        check(collector.wait(timeout=30) == 0, f"collect {name}: non-zero exit")
        summary = json.loads(open(err_path).read().strip().splitlines()[-1])
        for field in ("packets", "records", "decode_errors", "unknown_template", "sequence_lost", "kernel_drops",
                      "ring_drops"):
            check(field in summary, f"collect {name}: summary lacks {field}")
        _, _, decoded = flowguard_records(flowguard, capture_path, port)
        live = open(out_path).read().splitlines()

        def comparable(lines):  # everything but the receive time, which differs between the two paths
            out = Counter()
            for line in lines:
                r = json.loads(line)
                r.pop("time_received_ns")
                out[json.dumps(r, sort_keys=True)] += 1
            return out
        check(len(live) > 0, f"collect {name}: no records")
        check(comparable(live) == comparable(decoded),
              f"collect {name}: live records differ from decode ({len(live)} vs {len(decoded)})")
        check(summary["records"] == len(live) and summary["records_written"] == len(live),
              f"collect {name}: summary says {summary['records']} records, file has {len(live)}")
        print(f"collect {name}: {len(live)} records live = decode; summary {summary['packets']} packets")


def summed(recs):
    """Per key: total packets, total bytes, first start, last end (exporters may split a flow differently)."""
    out = {}
    for key, items in recs.items():
        out[key] = (sum(i[0] for i in items), sum(i[1] for i in items), min(i[2] for i in items),
                    max(i[3] for i in items))
    return out


def crafted_capture(workdir, seed):
    scenario = craft_flows.craft(seed)
    pcap = os.path.join(workdir, "crafted.pcap")
    craft_flows.write(scenario, pcap)
    return scenario, pcap


def run_meter_vs_softflowd(flowguard, workdir, seed):
    scenario, pcap = crafted_capture(workdir, seed)
    nfcapd, port, nfdir = start_nfdump_collector("nfcapd", workdir)
    softflowd_export(pcap, len(scenario.frames), port, 10, ["-A", "milli"], workdir)
    stop_nfdump_collector(nfcapd)
    theirs = summed(nfdump_records(nfdir))
    res = subprocess.run([flowguard, "meter", "--format", "json", pcap], capture_output=True, text=True, check=True)
    summary = json.loads(res.stderr.strip().splitlines()[-1])
    ours_raw = {}
    for line in res.stdout.splitlines():
        r = json.loads(line)
        check(r["type"] == "METER", "meter records are typed METER")
        proto = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMPv6": 58}.get(r["proto"], r["proto"])
        key = flow_key(r["src_addr"], r["dst_addr"], r["src_port"], r["dst_port"], int(proto), r["icmp_type"],
                       r["icmp_code"])
        ours_raw.setdefault(key, []).append((r["packets"], r["bytes"], r["time_flow_start_ns"] // 1_000_000,
                                             r["time_flow_end_ns"] // 1_000_000))
    ours = summed(ours_raw)
    # One-way truth (softflowd stamps both directions with the conversation's times; a one-way meter does not).
    truth = {}
    for (src, dst, sport, dport, proto), t in scenario.truth.items():
        truth[(src, dst, sport, dport, proto)] = (t.packets, t.l3_bytes, int(t.first * 1000), int(t.last * 1000))
    check(set(ours) == set(theirs), f"flow keys differ: only flowguard {sorted(set(ours) - set(theirs))[:5]}, "
                                    f"only softflowd {sorted(set(theirs) - set(ours))[:5]}")
    for key in ours:
        check(ours[key][:2] == theirs[key][:2], f"{key}: flowguard {ours[key][:2]} vs softflowd {theirs[key][:2]}")
        want = truth.get(key)
        check(want is not None and ours[key][:2] == want[:2] and abs(ours[key][2] - want[2]) <= 1
              and abs(ours[key][3] - want[3]) <= 1, f"{key}: flowguard {ours[key]} vs crafted truth {want}")
    check(summary["truncated"] == 0 and summary["malformed"] == 0, f"summary reports problems: {summary}")
    print(f"meter: {len(ours)} one-way flows, packets and bytes = softflowd -r (nfdump), times = truth")


NFDUMP_FLAG_ORDER = "CEUAPRSF"  # nfdump's tcp_flags string, one letter per bit from 0x80 down to 0x01


def nfdump_flags(text):
    return sum(1 << (7 - i) for i, c in enumerate(text) if c == NFDUMP_FLAG_ORDER[i])


def run_meter_ipfix_vs_nfdump(flowguard, workdir, seed):
    """`flowguard meter --export` sends its records as IPFIX to nfcapd: nfdump must read back exactly the
    records flowguard printed (keys, packets, bytes, millisecond times, TCP flags, ToS), with no sequence
    failure."""
    _, pcap = crafted_capture(workdir, seed)
    nfcapd, port, nfdir = start_nfdump_collector("nfcapd", workdir)
    res = subprocess.run([flowguard, "meter", "--format", "json", "--export", f"udp://127.0.0.1:{port}", pcap],
                         capture_output=True, text=True, check=True)
    stop_nfdump_collector(nfcapd)
    summary = json.loads(res.stderr.strip().splitlines()[-1])
    ours, extras = {}, {}
    for line in res.stdout.splitlines():
        r = json.loads(line)
        proto = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMPv6": 58}.get(r["proto"], r["proto"])
        key = flow_key(r["src_addr"], r["dst_addr"], r["src_port"], r["dst_port"], int(proto), r["icmp_type"],
                       r["icmp_code"])
        ours.setdefault(key, []).append((r["packets"], r["bytes"], r["time_flow_start_ns"] // 1_000_000,
                                         r["time_flow_end_ns"] // 1_000_000))
        extras[key] = (r["tcp_flags"] if proto == 6 else 0, r["ip_tos"])
    theirs = nfdump_records(nfdir)
    n = compare("meter --export vs nfdump", ours, theirs, 0)
    dump = subprocess.run(["nfdump", "-R", nfdir, "-o", "json"], capture_output=True, text=True, check=True)
    for r in json.loads(dump.stdout or "[]"):
        key = flow_key(r.get("src4_addr") or r.get("src6_addr"), r.get("dst4_addr") or r.get("dst6_addr"),
                       r.get("src_port", 0), r.get("dst_port", 0), r["proto"], r.get("icmp_type", 0),
                       r.get("icmp_code", 0))
        flags = nfdump_flags(r["tcp_flags"]) if r["proto"] == 6 else 0
        check(extras.get(key) == (flags, r.get("src_tos", 0)),
              f"{key}: flowguard flags/tos {extras.get(key)} vs nfdump {(flags, r.get('src_tos'))}")
    stat = subprocess.run(["nfdump", "-R", nfdir, "-I"], capture_output=True, text=True, check=True).stdout
    check("Sequence failures: 0" in stat, f"nfdump counts sequence failures: {stat[-200:]}")
    check(summary.get("ipfix_records") == summary.get("records") == n and summary.get("ipfix_send_errors") == 0,
          f"summary: {summary}")
    print(f"meter --export: {n} flows in {summary.get('ipfix_messages')} IPFIX messages = nfdump, no sequence failure")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=["decode_vs_nfdump", "collect_live", "meter_vs_softflowd", "meter_ipfix_vs_nfdump"])
    ap.add_argument("--flowguard", required=True)
    ap.add_argument("--seed", type=int, default=int(os.environ.get("FLOWGUARD_TEST_SEED", "20240301")))
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    for tool in ("softflowd", "softflowctl", "nfcapd", "nfdump", "tshark"):
        if not shutil.which(tool):
            print(f"FAIL: {tool} is not installed (run ./deploy/setup.sh)")
            print("0 passed, 1 failed")
            return 1
    flowguard = os.path.abspath(args.flowguard)
    if args.case == "decode_vs_nfdump":
        return run_case(args.case, lambda workdir: run_decode_vs_nfdump(flowguard, workdir, args.seed), args.keep)
    if args.case == "meter_ipfix_vs_nfdump":
        return run_case(args.case, lambda workdir: run_meter_ipfix_vs_nfdump(flowguard, workdir, args.seed), args.keep)
    if args.case == "meter_vs_softflowd":
        return run_case(args.case, lambda workdir: run_meter_vs_softflowd(flowguard, workdir, args.seed), args.keep)
    return run_case(args.case, lambda workdir: run_collect_live(flowguard, workdir, args.seed), args.keep)


if __name__ == "__main__":
    sys.exit(main())
