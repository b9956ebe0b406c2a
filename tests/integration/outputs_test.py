#!/usr/bin/python3
"""Outputs that fail or rotate, end to end on a live daemon.

alerts_full: `run --alerts /dev/full`; a flow to a published SUNBURST C2 address raises an alert that cannot be
  written: the reason is logged while running, /metrics counts the lost line, the summary says alerts_lost 1 and
  the exit code is 1 (it was 0 with "alerts":0, the alert silently gone).
flows_full: `collect --output /dev/full`: the same for flow records (logged at once with "No space left on
  device", flowguard_output_lines_lost_total{output="flows"}, records_lost, exit 1).
closed_pipe: the reader of `collect --output -` goes away: the daemon is not killed by SIGPIPE; the failed
  write is logged ("Broken pipe") and counted, SIGTERM still gives the summary.
rotation: `collect --output F --alerts A`; records and an alert arrive; both files are moved away (as
  logrotate does) and SIGHUP sent; what arrives next goes to new files at the old paths, none of it to the moved
  ones, and the CSV header leads the new flow file.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, free_tcp_port, free_udp_port, run_case, wait_for  # noqa: E402
from pipeline_test import ipfix_timed  # noqa: E402

C2 = "13.59.205.66"  # a published SUNBURST C2 address: the built-in indicators alert on it


def start(flowguard, workdir, command, *args):
    port = free_udp_port()
    err = os.path.join(workdir, f"{command}.stderr")
    proc = subprocess.Popen([flowguard, "--log-level", "info", command, "--listen", f"udp://127.0.0.1:{port}", *args],
                            stdout=subprocess.DEVNULL, stderr=open(err, "w"))
    wait_for(lambda: "listening on" in open(err).read(), 20, f"{command} to listen")
    return proc, err, port


def send(port, seq, records, template):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(ipfix_timed(seq, records, int(time.time()), template=template), ("127.0.0.1", port))


def stop(proc, err):
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=30)
    return rc, json.loads(open(err).read().strip().splitlines()[-1])


def metric(port, name):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return [line for line in text.splitlines() if line.startswith(name)]


def alerts_full(flowguard, workdir):
    metrics = free_tcp_port()
    proc, err, port = start(flowguard, workdir, "run", "--alerts", "/dev/full", "--metrics-listen",
                            f"127.0.0.1:{metrics}", "--archive", os.path.join(workdir, "archive"))
    now = int(time.time())
    send(port, 0, [("10.0.0.6", C2, 50000, 443, 900, now - 5)], template=True)
    wait_for(lambda: "alerts output /dev/full: write failed: No space left on device" in open(err).read(), 20,
             "the failed alert write to be logged while running")
    lost = metric(metrics, 'flowguard_output_lines_lost_total{output="alerts"}')
    check(lost and lost[0].endswith(" 1"), f"/metrics counts the lost alert: {lost}")
    rc, summary = stop(proc, err)
    check(rc == 1, f"a lost alert is a failure: exit {rc}")
    check(summary.get("alerts") == 0 and summary.get("alerts_lost") == 1, f"summary: {summary}")
    check("1 alerts lost" in open(err).read(), "the stop names the loss")


def flows_full(flowguard, workdir):
    proc, err, port = start(flowguard, workdir, "collect", "--output", "/dev/full")
    now = int(time.time())
    send(port, 0, [("10.0.0.1", "10.0.0.2", 40000 + i, 80, 100, now - 5) for i in range(5)], template=True)
    wait_for(lambda: "flows output /dev/full: write failed: No space left on device" in open(err).read(), 20,
             "the failed flow write to be logged while running (shards flush within a second)")
    rc, summary = stop(proc, err)
    check(rc == 1, f"lost records are a failure: exit {rc}")
    check(summary["records_written"] == 0 and summary["records_lost"] == 5, f"summary: {summary}")


def closed_pipe(flowguard, workdir):
    """The reader of `collect --output -` goes away: no death by SIGPIPE; "Broken pipe" is logged and counted,
    and SIGTERM still drains and prints the summary (exit 1: records were lost)."""
    port = free_udp_port()
    err = os.path.join(workdir, "collect.stderr")
    proc = subprocess.Popen([flowguard, "collect", "--listen", f"udp://127.0.0.1:{port}", "--output", "-"],
                            stdout=subprocess.PIPE, stderr=open(err, "w"))
    wait_for(lambda: "listening on" in open(err).read(), 20, "collect to listen")
    proc.stdout.close()  # the reader is gone
    now = int(time.time())
    send(port, 0, [("10.0.0.1", "10.0.0.2", 40000 + i, 80, 100, now - 5) for i in range(3)], template=True)
    wait_for(lambda: "write failed: Broken pipe" in open(err).read(), 20, "the broken pipe to be logged")
    check(proc.poll() is None, "collect died of SIGPIPE")
    rc, summary = stop(proc, err)
    check(rc == 1 and summary["records_lost"] == 3, f"exit {rc}, summary {summary}")


def rotation(flowguard, workdir):
    flows = os.path.join(workdir, "flows.csv")
    alerts = os.path.join(workdir, "alerts.jsonl")
    proc, err, port = start(flowguard, workdir, "collect", "--format", "csv", "--output", flows, "--alerts", alerts)
    now = int(time.time())
    send(port, 0, [("10.0.0.1", "10.0.0.2", 40000, 80, 100, now - 5), ("10.0.0.6", C2, 50000, 443, 900, now - 5)],
         template=True)
    wait_for(lambda: os.path.exists(alerts) and os.path.getsize(alerts) > 0, 20, "the first alert")
    wait_for(lambda: open(flows).read().count("\n") == 3, 20, "the first records (header + 2)")
    os.rename(flows, flows + ".1")
    os.rename(alerts, alerts + ".1")
    proc.send_signal(signal.SIGHUP)
    wait_for(lambda: open(err).read().count("reopened") == 2, 20, "both outputs to be reopened")
    send(port, 2, [("10.0.0.3", "10.0.0.4", 40001, 80, 100, now - 4), ("10.0.0.7", C2, 50001, 443, 900, now - 4)],
         template=True)
    wait_for(lambda: os.path.exists(alerts) and os.path.getsize(alerts) > 0, 20, "the second alert in the new file")
    rc, summary = stop(proc, err)
    check(rc == 0, f"exit {rc}")
    old_flows, new_flows = open(flows + ".1").read(), open(flows).read()
    old_alerts, new_alerts = open(alerts + ".1").read(), open(alerts).read()
    check("10.0.0.3" not in old_flows and "10.0.0.3" in new_flows, "records after SIGHUP go to the new file")
    check(new_flows.startswith("type,") and new_flows.count("\n") == 3, f"new flow file: header + 2 lines: {new_flows}")
    check("10.0.0.6" in old_alerts and "10.0.0.7" not in old_alerts, "the moved alert file keeps only the first")
    check("10.0.0.7" in new_alerts and "10.0.0.6" not in new_alerts, "the new alert file holds the second")
    check(summary["records_written"] == 4 and summary["alerts"] == 2, f"summary: {summary}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowguard", required=True)
    ap.add_argument("case", choices=["alerts_full", "flows_full", "closed_pipe", "rotation"])
    a = ap.parse_args()
    body = {"alerts_full": alerts_full, "flows_full": flows_full, "closed_pipe": closed_pipe,
            "rotation": rotation}[a.case]
    sys.exit(run_case(f"outputs_{a.case}", lambda w: body(a.flowguard, w)))
