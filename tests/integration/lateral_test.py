#!/usr/bin/python3
"""Lateral movement end to end (tests/scenarios/lateral.py generates the domain; lateral_forms.py re-encodes it).

forms: one generated domain (60 hosts, 3 days, learning 1 day, every kind injected) as JSON-lines flows, as a
  span-port capture that `analyze` meters, and as IPFIX export datagrams in a capture that it decodes: the
  three give the same lateral alerts (kind, severity, hosts, times, edges), and every injection is among them.
  `flowguard graph` prints the graph, which loads back as `analyze --baseline`: analyze of the last day alone
  then finds the same movement (without a baseline it is still learning: only DCSync, which needs none).
restart: the same domain's IPFIX over UDP into `flowguard collect --alerts` (2 shards: records reach the graph
  out of order) gives each host the same strongest finding as `analyze`. Then, with analyzer.lateral.state_file,
  the collector learns from IPFIX of the first two days
  sent over UDP, stops on SIGTERM (the graph saved), starts again (restored: `learning` 0 at once) and finds
  the movement of the third day; a collector started without the saved graph only learns from the same data
  (DCSync aside).
"""
import argparse
import json
import os
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = os.path.join(HERE, "..", "scenarios")
sys.path.insert(0, HERE)
sys.path.insert(0, SCENARIOS)
from harness import check, free_udp_port, run_case, wait_for  # noqa: E402
import lateral_forms  # noqa: E402


def generate(workdir):
    subprocess.run([sys.executable, os.path.join(SCENARIOS, "lateral.py"), "--seed", "11", "--hosts", "60",
                    "--days", "3", "--learning-days", "1", "--out", workdir], check=True)
    return json.load(open(os.path.join(workdir, "truth.json")))


def lateral_alerts(lines):
    out = []
    for line in lines:
        a = json.loads(line)
        if a["kind"].startswith("lateral_"):
            out.append(a)
    return out


def signature(a):
    edges = tuple((e["src"], e["dst"], e["service"], e["time"]) for e in a["evidence"].get("edges", []))
    return (a["kind"], a["severity"], a["src_addr"], a["dst_addr"], a["first_seen"], a["last_seen"], edges)


def analyze(flowguard, workdir, inputs, extra=()):
    run = subprocess.run([flowguard, "-c", os.path.join(workdir, "config.yml"), "analyze", *extra, *inputs],
                         capture_output=True, text=True)
    check(run.returncode == 0, f"analyze {inputs} exited {run.returncode}: {run.stderr[-500:]}")
    return lateral_alerts(run.stdout.splitlines()), json.loads(run.stderr.strip().splitlines()[-1])


def covers(truth, alerts):
    missing = []
    for inj in truth["injected"]:
        ok = any(inj["origin"] in ({a["src_addr"]} | {e["src"] for e in a["evidence"].get("edges", [])})
                 for a in alerts)
        if not ok:
            missing.append(inj["kind"])
    return missing


def run_forms(flowguard, workdir):
    truth = generate(workdir)
    flows = os.path.join(workdir, "flows.jsonl")
    traffic = os.path.join(workdir, "traffic.pcap")
    export = os.path.join(workdir, "export.pcap")
    lateral_forms.write_traffic_pcap(flows, traffic)
    lateral_forms.write_ipfix_pcap(flows, export)
    results = {}
    for name, path in [("json", flows), ("span pcap", traffic), ("ipfix pcap", export)]:
        alerts, summary = analyze(flowguard, workdir, [path])
        results[name] = [signature(a) for a in alerts]
        print(f"{name}: {len(alerts)} lateral alerts, {summary['lateral']['flows']} records examined")
    check(len(results["json"]) >= len(truth["injected"]), f"too few alerts: {results['json']}")
    check(results["span pcap"] == results["json"], f"metered capture differs: {results['span pcap']}")
    check(results["ipfix pcap"] == results["json"], f"IPFIX export differs: {results['ipfix pcap']}")
    alerts, _ = analyze(flowguard, workdir, [flows])
    missing = covers(truth, alerts)
    check(not missing, f"injections not found: {missing}")

    # The graph as a baseline: analyze of the last day alone.
    learning_end = min(i["start"] for i in truth["injected"]) - 1
    early, late = os.path.join(workdir, "early.jsonl"), os.path.join(workdir, "late.jsonl")
    with open(flows) as f, open(early, "w") as e, open(late, "w") as l:
        for line in f:
            (e if json.loads(line)["time_flow_start_ns"] < learning_end * 1e9 else l).write(line)
    graph = os.path.join(workdir, "graph.jsonl")
    with open(graph, "w") as g:
        run = subprocess.run([flowguard, "-c", os.path.join(workdir, "config.yml"), "graph", early], stdout=g,
                             stderr=subprocess.PIPE, text=True)
    check(run.returncode == 0, f"graph exited {run.returncode}")
    lines = [json.loads(l) for l in open(graph)]
    check(lines[0]["type"] == "graph", "graph output starts with its header")
    roles = {l["addr"]: l["roles"] for l in lines if l["type"] == "host"}
    check("domain-controller" in roles.get("10.0.0.10", []), f"the DC's learned role: {roles.get('10.0.0.10')}")
    check(sum(1 for l in lines if l["type"] == "edge") > 100, "graph has edges")
    without, summary = analyze(flowguard, workdir, [late])
    # DCSync needs no baseline (a DC's role shows within minutes); everything else waits for learning.
    baseline_kinds = [a["kind"] for a in without if a["kind"] != "lateral_dcsync"]
    check(not baseline_kinds and summary["lateral"]["learning"] == 1,
          f"without a baseline: learning, no baseline-based alerts: {baseline_kinds}")
    with_baseline, summary = analyze(flowguard, workdir, [late], ["--baseline", graph])
    check(summary["lateral"]["learning"] == 0, "with the baseline the learning period is over")
    missing = covers(truth, with_baseline)
    check(not missing, f"with the baseline, injections not found: {missing}")


def start(flowguard, workdir, name, config, port):
    err = os.path.join(workdir, f"{name}.stderr")
    alerts = os.path.join(workdir, f"{name}.alerts")
    proc = subprocess.Popen([flowguard, "-c", config, "collect", "--listen", f"udp://127.0.0.1:{port}",
                             "--format", "none", "--alerts", alerts], stdout=subprocess.DEVNULL,
                            stderr=open(err, "w"))
    wait_for(lambda: "listening on" in open(err).read(), 20, "the collector to listen")
    return proc, err, alerts


def stop(proc, err):
    proc.send_signal(signal.SIGTERM)
    check(proc.wait(timeout=60) == 0, "collector exited non-zero")
    return json.loads(open(err).read().strip().splitlines()[-1])


RANK = ["lateral_new_edge", "lateral_fanout", "lateral_directory", "lateral_watched", "lateral_chain",
        "lateral_dcsync"]


def strongest(alerts):
    """Each origin host's highest-ranked alert kind (the alert budget's order)."""
    out = {}
    for a in alerts:
        if RANK.index(a["kind"]) >= RANK.index(out.get(a["src_addr"], RANK[0])):
            out[a["src_addr"]] = a["kind"]
    return out


def run_restart(flowguard, workdir):
    truth = generate(workdir)
    flows = os.path.join(workdir, "flows.jsonl")
    first_attack = min(i["start"] for i in truth["injected"]) - 1
    before, after = os.path.join(workdir, "before.jsonl"), os.path.join(workdir, "after.jsonl")
    counts = [0, 0]
    with open(flows) as f, open(before, "w") as b, open(after, "w") as a:
        for line in f:
            early = json.loads(line)["time_flow_start_ns"] < first_attack * 1e9
            (b if early else a).write(line)
            counts[0 if early else 1] += 1
    port = free_udp_port()
    # The daemon and analyze on the same input: records reach the daemon's graph out of order (2 shards, sent
    # at full speed), so one alert's evidence and an escalation can differ; each host's strongest finding
    # may not.
    proc, err, alerts = start(flowguard, workdir, "whole", os.path.join(workdir, "config.yml"), port)
    lateral_forms.send_ipfix(flows, port)
    summary = stop(proc, err)
    check(summary["records_delivered"] == counts[0] + counts[1], "whole run: every record delivered")
    offline, _ = analyze(flowguard, workdir, [flows])
    check(strongest(lateral_alerts(open(alerts))) == strongest(offline),
          f"live {strongest(lateral_alerts(open(alerts)))} != analyze {strongest(offline)}")

    state = os.path.join(workdir, "graph.state")
    config = os.path.join(workdir, "live.yml")
    with open(config, "w") as c:
        c.write(open(os.path.join(workdir, "config.yml")).read() + f"    state_file: {state}\n")

    proc, err, _ = start(flowguard, workdir, "learn", config, port)
    lateral_forms.send_ipfix(before, port)
    wait_for(lambda: proc.poll() is None, 1, "")
    summary = stop(proc, err)
    check(summary["records_delivered"] == counts[0], f"learning run: {summary['records_delivered']} of {counts[0]}")
    check(summary["lateral"]["saves"] >= 1 and os.path.exists(state), "graph saved at stop")
    saved = [json.loads(l) for l in open(state)]
    check(sum(1 for l in saved if l["type"] == "edge") > 100, "saved graph has edges")

    proc, err, alerts = start(flowguard, workdir, "restarted", config, port)
    check("graph restored" in open(err).read(), "restore logged")
    lateral_forms.send_ipfix(after, port)
    summary = stop(proc, err)
    check(summary["records_delivered"] == counts[1], f"second run: {summary['records_delivered']} of {counts[1]}")
    check(summary["lateral"]["learning"] == 0, "no new learning period after the restart")
    found = lateral_alerts(open(alerts))
    missing = covers(truth, found)
    check(not missing, f"after the restart, injections not found: {missing}")

    fresh = os.path.join(workdir, "fresh.yml")
    with open(fresh, "w") as c:
        c.write(open(os.path.join(workdir, "config.yml")).read())
    proc, err, alerts = start(flowguard, workdir, "fresh", fresh, port)
    lateral_forms.send_ipfix(after, port)
    summary = stop(proc, err)
    kinds = [a["kind"] for a in lateral_alerts(open(alerts)) if a["kind"] != "lateral_dcsync"]
    check(summary["lateral"]["learning"] == 1 and not kinds,
          f"without the saved graph the same data is only learned from: {kinds}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=["forms", "restart"])
    ap.add_argument("--flowguard", required=True)
    a = ap.parse_args()
    body = {"forms": run_forms, "restart": run_restart}[a.case]
    sys.exit(run_case(f"lateral-{a.case}", lambda w: body(a.flowguard, w)))
