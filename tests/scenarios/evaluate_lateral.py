#!/usr/bin/env python3
"""Lateral-movement detection on generated domains (tests/scenarios/lateral.py), on seeds never used for
tuning: every injected movement must be found, and false alerts (lateral_* alerts that match no injection)
stay under the bound, counted per 1,000 host-days after the learning period. Also a background-only run.

An injection is found by an alert whose source (or one of its edges' sources) is the injection's origin and
whose first_seen lies within [start - 1 h, end + 2 h]; every such alert counts as the injection's (an
escalation of the same incident is not a false alert).

Usage: evaluate_lateral.py --flowguard BIN --seeds 201-203 [--hosts 400] [--days 30] [--background-hosts 1000]
       [--max-fp-per-1000-host-days 1] [--workdir DIR]
"""
import argparse, datetime, json, os, shutil, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from evaluate import seeds  # noqa: E402  "201-203" or "1,5,9"


def ts(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def run(flowguard, seed, hosts, days, inject, workdir):
    out = os.path.join(workdir, f"seed{seed}-{inject}")
    subprocess.run([sys.executable, os.path.join(HERE, "lateral.py"), "--seed", str(seed), "--hosts", str(hosts),
                    "--days", str(days), "--out", out, "--inject", inject], check=True)
    with open(os.path.join(out, "alerts.jsonl"), "w") as alerts:
        subprocess.run([flowguard, "-c", os.path.join(out, "config.yml"), "analyze", os.path.join(out, "flows.jsonl")],
                       stdout=alerts, stderr=subprocess.DEVNULL, check=True)
    truth = json.load(open(os.path.join(out, "truth.json")))
    alerts = [json.loads(l) for l in open(os.path.join(out, "alerts.jsonl"))]
    alerts = [a for a in alerts if a["kind"].startswith("lateral_")]
    used, found = set(), []
    for inj in truth["injected"]:
        hit = None
        for i, a in enumerate(alerts):
            sources = {a["src_addr"]} | {e["src"] for e in a["evidence"].get("edges", [])}
            if inj["origin"] in sources and inj["start"] - 3600 <= ts(a["first_seen"]) <= inj["end"] + 7200:
                hit = hit or a
                used.add(i)
        found.append((inj["kind"], hit))
    false = [a for i, a in enumerate(alerts) if i not in used]
    host_days = truth["hosts"] * (truth["days"] - truth["learning_days"])
    return found, false, host_days


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowguard", required=True)
    ap.add_argument("--seeds", default="201-203")
    ap.add_argument("--hosts", type=int, default=400)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--background-hosts", type=int, default=1000)
    ap.add_argument("--max-fp-per-1000-host-days", type=float, default=1.0)
    ap.add_argument("--workdir")
    a = ap.parse_args()
    workdir = a.workdir or tempfile.mkdtemp(prefix="flowguard-lateral-")
    missed, false_total, host_days_total = 0, 0, 0
    per_kind = {}
    try:
        for seed in seeds(a.seeds):
            found, false, host_days = run(a.flowguard, seed, a.hosts, a.days, "all", workdir)
            for kind, hit in found:
                per_kind.setdefault(kind, [0, 0])
                per_kind[kind][1] += 1
                if hit:
                    per_kind[kind][0] += 1
                else:
                    missed += 1
                print(f"seed {seed}: {kind}: " + (f"found as {hit['kind']} ({hit['severity']})" if hit else "MISSED"))
            for f in false:
                print(f"seed {seed}: false alert {f['kind']} {f['src_addr']} -> {f.get('dst_addr')} {f['first_seen']}")
            false_total += len(false)
            host_days_total += host_days
        if a.background_hosts:
            seed = seeds(a.seeds)[0] + 1000
            _, false, host_days = run(a.flowguard, seed, a.background_hosts, a.days, "none", workdir)
            for f in false:
                print(f"background seed {seed}: false alert {f['kind']} {f['src_addr']} {f['first_seen']}")
            print(f"background only, {a.background_hosts} hosts: {len(false)} false alerts in {host_days} host-days")
            false_total += len(false)
            host_days_total += host_days
    finally:
        if not a.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    rate = false_total / (host_days_total / 1000)
    for kind, (hit, n) in sorted(per_kind.items()):
        print(f"{kind}: {hit}/{n} found")
    print(f"false alerts: {false_total} in {host_days_total} host-days after learning = {rate:.3f} per 1,000 host-days")
    ok = missed == 0 and rate <= a.max_fp_per_1000_host_days
    print(f"{1 if ok else 0} passed, {0 if ok else 1} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
