#!/usr/bin/python3
"""`flowguard query` against independent references, on an archive a live `collect --archive` wrote.

vs_references: 20,000 varied IPFIX records (query_flows.py: v4/v6, TCP/UDP/ICMP, interfaces, AS, TOS, flags,
  two exporters) are collected into the archive. For a table of nfdump filters, the flows `query` prints equal
  the flows the real `nfdump -R` prints with the same filter; for a table of -s statistics (-n 0: every row),
  query's rows equal nfdump's -s rows, and its top 10 have nfdump's order values. Aggregation (-a), series
  (--every), time windows (--from/--to) and the statistics nfdump does not have (conversation, exporter with
  its observation domain) equal a Python reference computed from the records sent.
live: while the daemon still writes, query reads the open interval's completed blocks (open_files 1) and never
  more than was sent; after it stops, every record.
names: `flowguard meter` reads a capture with DNS, writes its passive DNS log and exports its flows as IPFIX
  to `collect --archive`; `query --dns LOG 'name example.com'` prints exactly the metered flows to and from the
  addresses the log's answers gave for example.com and the names under it (a Python reference over meter's own
  JSON output and DNS log); a name with no answer matches nothing, with a warning.
errors: a bad filter, time, statistic or archive is exit code 2 with a message that says what and where.
formats: CSV has its header and a row per flow; the table has its header and the Summary line.
"""
import argparse
import collections
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import query_flows  # noqa: E402
from harness import check, free_udp_port, run_case, wait_for  # noqa: E402

STARTED = []
PROTO_NAMES = {6: "TCP", 17: "UDP", 1: "ICMP", 58: "ICMPv6"}


def start_collect(flowguard, workdir, *args):
    port = free_udp_port()
    err = os.path.join(workdir, "collect.stderr")
    proc = subprocess.Popen([flowguard, "--log-level", "info", "collect", "--listen", f"udp://127.0.0.1:{port}",
                             "--format", "none", *args], stdout=subprocess.DEVNULL, stderr=open(err, "w"))
    STARTED.append(proc)
    wait_for(lambda: "listening on" in open(err).read(), 20, "collect to listen")
    return proc, port, err


def stop_collect(proc, err):
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    return json.loads(open(err).read().strip().splitlines()[-1])


def collected_archive(flowguard, workdir, seed, count, age_s, span_s):
    """An archive a live `collect --archive` wrote from `count` varied records; returns it and the records."""
    archive = os.path.join(workdir, "archive")
    proc, port, err = start_collect(flowguard, workdir, "--archive", archive)
    now = int(time.time())
    flows = query_flows.make_flows(seed, count, now - age_s, span_s)
    query_flows.send(port, flows, now)
    time.sleep(1.5)
    summary = stop_collect(proc, err)
    check(summary["archive"]["flows_written"] == len(flows),
          f"collect archived every record sent ({summary['archive']['flows_written']} of {len(flows)})")
    return archive, flows, now


def query(flowguard, *args, expect_rc=0):
    out = subprocess.run([flowguard, "query", "--format", "json", *args], capture_output=True, text=True)
    check(out.returncode == expect_rc, f"query {args}: exit {out.returncode} (stderr: {out.stderr[-500:]})")
    return [json.loads(line) for line in out.stdout.splitlines()], out.stderr


def flow_key(src, dst, sport, dport, proto, packets, nbytes):
    return (src, dst, int(sport), int(dport), str(proto), int(packets), int(nbytes))


def query_flows_of(flowguard, archive, filt):
    rows, _ = query(flowguard, "--archive", archive, filt)
    return collections.Counter(flow_key(r["src_addr"], r["dst_addr"], r["src_port"], r["dst_port"], r["proto"],
                                        r["packets"], r["bytes"]) for r in rows)


def nfdump_flows(archive, filt):
    out = subprocess.run(["nfdump", "-R", archive, "-q", "-N", "-o", "fmt:%sa|%da|%sp|%dp|%pr|%pkt|%byt", filt],
                         capture_output=True, text=True, check=True).stdout
    flows = collections.Counter()
    for line in out.splitlines():
        if line.count("|") != 6:
            continue  # "No matching flows"
        src, dst, sport, dport, proto, packets, nbytes = (x.strip() for x in line.split("|"))
        if "." in dport:  # ICMP: type.code
            t, c = dport.split(".")
            dport = int(t) * 256 + int(c)
        flows[flow_key(src, dst, sport, dport, PROTO_NAMES.get(int(proto), proto) if proto.isdigit() else proto,
                       packets, nbytes)] += 1
    return flows


def nfdump_stat(archive, stat):
    out = subprocess.run(["nfdump", "-R", archive, "-s", stat, "-n", "0", "-o", "csv"], capture_output=True,
                         text=True, check=True).stdout
    rows = {}
    lines = out.splitlines()
    header = lines[0].split(",")
    for line in lines[1:]:
        if not line.strip():
            break  # the Summary block follows an empty line
        row = dict(zip(header, line.split(",")))
        key = row["val"].strip()
        if stat.startswith("proto"):  # nfdump's CSV has numbers, query the names of its table output
            key = PROTO_NAMES.get(int(key), key)
        rows[key] = (int(row["fl"]), int(row.get("pkt", row.get("ipkt"))), int(row.get("byt", row.get("ibyt"))))
    return rows


FILTERS = [
    "any",
    "src net 10.1.1.0/24 and dst port 443",
    "host 198.51.100.0",  # an address no flow has: nothing, in both
    "proto udp and (dst port 53 or dst port 123)",
    "not proto tcp and bytes > 20k",
    "ipv6 and src net 2001:db8:1::/48",
    "port in [ 22 3389 445 ] and packets >= 5",
    "dst net 203.0.113.0/24 or src net 203.0.113.0/24",
    "in if 3 and out if 5",
    "if 8 and not ipv6",
    "proto icmp or proto icmp6",
    "tos 46 and flags S",
    "bpp > 1000 and duration > 2000",
    "net 10.1/16 and not net 10.1.0.0/23",
    "dst port > 1023 and src port < 1024",
]

# Filters nfdump 1.7.1 cannot be the reference for (its `as` terms ask for a geo database), against the records
# sent instead.
PY_FILTERS = [
    ("src as 15169 or dst as 64501", lambda f: f["src_as"] == 15169 or f["dst_as"] == 64501),
    ("as 64500 and not proto udp", lambda f: 64500 in (f["src_as"], f["dst_as"]) and f["proto"] != 17),
    ("exporter 127.0.0.1 and observation domain id 2", lambda f: f["domain"] == 2),
]

STATS = ["srcip/bytes", "dstip/flows", "ip/bytes", "dstport/packets", "port/flows", "proto/bytes", "inif/flows",
         "outif/bytes", "srcas/bytes", "dstas/flows"]


def reference_match(f, window):
    return f["start_ms"] * 1_000_000 < window[1] and f["end_ms"] * 1_000_000 >= window[0]


def vs_references(flowguard, workdir):
    archive, flows, now = collected_archive(flowguard, workdir, 11, 20_000, 3 * 3600, 3 * 3600 - 600)

    for filt in FILTERS:
        got, want = query_flows_of(flowguard, archive, filt), nfdump_flows(archive, filt)
        check(got == want, f"filter '{filt}': query {sum(got.values())} flows, nfdump {sum(want.values())}; "
                           f"only in query: {list((got - want).items())[:3]}, only in nfdump: {list((want - got).items())[:3]}")
        print(f"filter '{filt}': {sum(got.values())} flows, as nfdump")

    for stat in STATS:
        rows, _ = query(flowguard, "--archive", archive, "-s", stat, "-n", "0")
        got = {r["key"]: (r["flows"], r["packets"], r["bytes"]) for r in rows}
        want = nfdump_stat(archive, stat)
        check(got == want, f"-s {stat}: {len(got)} rows vs nfdump's {len(want)}; differing: "
                           f"{[(k, got.get(k), want.get(k)) for k in set(got) | set(want) if got.get(k) != want.get(k)][:3]}")
        order = ["flows", "packets", "bytes"].index(stat.split("/")[1])
        top, _ = query(flowguard, "--archive", archive, "-s", stat)
        want_top = sorted((v[order] for v in want.values()), reverse=True)[:10]
        check([(r["flows"], r["packets"], r["bytes"])[order] for r in top] == want_top,
              f"-s {stat}: the top 10 by {stat.split('/')[1]} are nfdump's")
        print(f"-s {stat}: {len(got)} rows, as nfdump; top 10 in nfdump's order")

    everything = (0, 2**64)
    # -a: the 5-tuple aggregation, against the records sent.
    ref = collections.defaultdict(lambda: [0, 0, 0])
    for f in flows:
        k = (f["src"], f["dst"], f["sport"], f["dport"], PROTO_NAMES[f["proto"]])
        ref[k][0] += 1
        ref[k][1] += f["packets"]
        ref[k][2] += f["bytes"]
    rows, _ = query(flowguard, "--archive", archive, "-a")
    got = {(r["src_addr"], r["dst_addr"], r["src_port"], r["dst_port"], r["proto"]): [r["Flows"], r["packets"], r["bytes"]]
           for r in rows}
    check(got == dict(ref), f"-a: {len(got)} aggregated flows, reference {len(ref)}")
    print(f"-a: {len(got)} aggregated flows, as the reference")

    # --every 10m: flows per bucket of their start time.
    ref = collections.Counter()
    for f in flows:
        ref[f["start_ms"] // 600_000 * 600] += 1
    rows, _ = query(flowguard, "--archive", archive, "--every", "10m", "proto tcp or proto udp or not proto tcp")
    got = {int(time.mktime(time.strptime(r["time"], "%Y-%m-%dT%H:%M:%SZ"))) - time.timezone: r["flows"] for r in rows}
    check(got == dict(ref), "--every 10m: the flows of each bucket")
    print(f"--every 10m: {len(got)} buckets, as the reference")

    # --from/--to: flows that overlap the window, with a filter.
    lo, hi = (now - 2 * 3600) * 10**9, (now - 3600) * 10**9
    t = lambda ns: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns // 10**9))
    rows, _ = query(flowguard, "--archive", archive, "--from", t(lo), "--to", t(hi), "dst port 443")
    want = sum(1 for f in flows if reference_match(f, (lo, hi)) and f["dport"] == 443)
    check(len(rows) == want, f"--from/--to: {len(rows)} flows, reference {want}")
    print(f"--from/--to with a filter: {len(rows)} flows, as the reference")

    # Statistics nfdump has not: conversations, and exporters told apart by observation domain.
    conv = collections.Counter(" <-> ".join(sorted((f["src"], f["dst"]), key=lambda a: (":" in a, a)))
                               for f in flows if reference_match(f, everything))
    rows, _ = query(flowguard, "--archive", archive, "-s", "conversation", "-n", "0")
    got = {r["key"]: r["flows"] for r in rows}
    check(sum(got.values()) == len(flows) and len(got) == len(conv), f"-s conversation: {len(got)} pairs, reference {len(conv)}")
    rows, _ = query(flowguard, "--archive", archive, "-s", "exporter/bytes")
    ref = collections.Counter()
    for f in flows:
        ref[f"127.0.0.1/{f['domain']}"] += f["bytes"]
    check({r["key"]: r["bytes"] for r in rows} == dict(ref), "-s exporter/bytes: by observation domain")
    print("conversation and exporter statistics: as the reference")
    for filt, predicate in PY_FILTERS:
        got = query_flows_of(flowguard, archive, filt)
        want = collections.Counter(flow_key(f["src"], f["dst"], f["sport"], f["dport"], PROTO_NAMES[f["proto"]],
                                            f["packets"], f["bytes"]) for f in flows if predicate(f))
        check(got == want, f"filter '{filt}': query {sum(got.values())} flows, reference {sum(want.values())}")
        print(f"filter '{filt}': {sum(got.values())} flows, as the reference")


def live(flowguard, workdir):
    archive = os.path.join(workdir, "archive")
    proc, port, err = start_collect(flowguard, workdir, "--archive", archive)
    now = int(time.time())
    flows = query_flows.make_flows(5, 40_000, now - 600, 500)
    query_flows.send(port, flows, now)
    time.sleep(1.5)
    rows, stderr = query(flowguard, "--archive", archive, "-s", "proto")
    summary = json.loads(stderr.strip().splitlines()[-1])
    read = summary["flows_read"]
    check(summary["open_files"] == 1, "the open interval's file was read")
    check(0 < read < len(flows), f"while running: {read} of {len(flows)} records in completed blocks")
    stop_collect(proc, err)
    _, stderr = query(flowguard, "--archive", archive)
    summary = json.loads(stderr.strip().splitlines()[-1])
    check(summary["flows_read"] == len(flows) and summary["open_files"] == 0, "after stop: every record")
    print(f"live: {read} of {len(flows)} records while the daemon ran, all {len(flows)} after it stopped")


def names(flowguard, workdir, fixtures):
    archive = os.path.join(workdir, "archive")
    dns_log = os.path.join(workdir, "dns.jsonl")
    proc, port, err = start_collect(flowguard, workdir, "--archive", archive)
    metered = subprocess.run([flowguard, "meter", os.path.join(fixtures, "corpus", "mixed.pcap"), "--format", "json",
                              "--dns-log", dns_log, "--export", f"udp://127.0.0.1:{port}"],
                             capture_output=True, text=True, check=True).stdout
    time.sleep(1)
    stop_collect(proc, err)
    flows = [json.loads(line) for line in metered.splitlines()]
    answers = set()
    for line in open(dns_log):
        event = json.loads(line)
        chain = [event["qname"]] + event.get("cnames", [])
        if event["type"] == "response" and any(n == "example.com" or n.endswith(".example.com") for n in chain):
            answers.update(event.get("answers", []))
    check(answers, "the capture's DNS log answers for example.com")
    want = sorted((f["src_addr"], f["dst_addr"], f["src_port"], f["dst_port"]) for f in flows
                  if f["src_addr"] in answers or f["dst_addr"] in answers)
    rows, stderr = query(flowguard, "--archive", archive, "--dns", dns_log, "name", "example.com")
    got = sorted((r["src_addr"], r["dst_addr"], r["src_port"], r["dst_port"]) for r in rows)
    check(got == want and want, f"name example.com: {got} vs {want}")
    check(json.loads(stderr.strip().splitlines()[-1])["dns_responses"] > 0, "the summary counts the DNS responses")
    rows, stderr = query(flowguard, "--archive", archive, "--dns", dns_log, "name example.org or port 80")
    check("no DNS answer for example.org" in stderr and all(80 in (r["src_port"], r["dst_port"]) for r in rows),
          "a name without answers matches nothing, with a warning")
    print(f"names: 'name example.com' gives the {len(want)} metered flows to and from {sorted(answers)}")


def errors(flowguard, workdir):
    archive = os.path.join(workdir, "empty")
    os.makedirs(archive)
    cases = [
        (["src port 443 and"], "filter: expected a filter term at the end"),
        (["src prt 443"], "unknown filter term at 'prt'"),
        (["--from", "yesterday"], "not a time"),
        (["-s", "srcipp"], "unknown statistic"),
        (["--every", "5parsecs"], "every"),
        (["name example.com"], "the archive has no DNS files (archive.events), and no --dns FILE was given"),
        (["--events", "dns"], "no DNS events or alerts in this archive"),
        (["--events", "alerts", "port 443"], "--events prints JSON lines as stored"),
    ]
    for args, message in cases:
        _, stderr = query(flowguard, "--archive", archive, *args, expect_rc=2)
        check(message in stderr, f"{args}: says '{message}' ({stderr.strip()[:200]})")
    _, stderr = query(flowguard, "--archive", os.path.join(workdir, "nosuch"), expect_rc=2)
    check("no such file or directory" in stderr, "a missing archive says so")
    _, stderr = query(flowguard, "--archive", archive)
    check(json.loads(stderr.strip().splitlines()[-1])["files"] == 0, "an empty archive is no error")
    print("errors: exit 2 and a message for each bad argument")


def formats(flowguard, workdir):
    archive, flows, _ = collected_archive(flowguard, workdir, 3, 500, 600, 500)
    csv = subprocess.run([flowguard, "query", "--archive", archive, "--format", "csv", "proto udp"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    check(csv[0].startswith("type,time_received_ns,") and len(csv) == 1 + sum(f["proto"] == 17 for f in flows),
          "csv: a header and a row per flow")
    table = subprocess.run([flowguard, "query", "--archive", archive, "--format", "table", "-c", "5"],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    check(table[0].startswith("Date first seen") and len(table) == 7 and table[-1].startswith("Summary: 5 flows"),
          f"table: header, 5 flows, Summary ({table[:2]}, {table[-1:]})")
    stats = subprocess.run([flowguard, "query", "--archive", archive, "--format", "table", "-s", "dstport/bytes", "-n", "3"],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    check(stats[0] == "Top 3 dstport ordered by bytes:" and stats[1].split()[:3] == ["Key", "Flows", "%"],
          "table: the statistic's title and columns")
    print("formats: csv, table and statistics table")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("case", choices=["vs_references", "live", "names", "errors", "formats"])
    parser.add_argument("--flowguard", required=True)
    parser.add_argument("--fixtures", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
    args = parser.parse_args()
    body = {"vs_references": vs_references, "live": live, "errors": errors, "formats": formats,
            "names": lambda flowguard, workdir: names(flowguard, workdir, args.fixtures)}[args.case]
    try:
        return run_case(f"query_{args.case}", lambda workdir: body(args.flowguard, workdir))
    finally:
        for proc in STARTED:
            if proc.poll() is None:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
