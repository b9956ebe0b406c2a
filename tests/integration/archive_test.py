#!/usr/bin/python3
"""The flow archive end to end on a live daemon, read back by the real nfdump.

nfdump_reads: `collect --archive DIR` receives IPFIX records; after SIGTERM the directory holds one complete
  nfcapd.YYYYMMDDhhmm file and no nfcapd.current.* file, the summary counts every record archived, and
  `nfdump -R DIR` prints each record with its addresses, ports and bytes.
crash: records arrive for three 1 MiB blocks and part of a fourth; once `run`'s /metrics count of records handed
  to the archive settles, the daemon is killed with SIGKILL mid-interval; the next start salvages the dead writer's whole blocks
  into a complete file (logged, counted), which nfdump reads: only the partial block is lost.
write_error: the archive's files may not grow beyond 200 kB (RLIMIT_FSIZE, as a full disk refuses writes):
  the failed write is logged while running, counted in /metrics and the summary, the daemon keeps running and
  exits 1 at SIGTERM.
"""
import argparse
import atexit
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, free_tcp_port, free_udp_port, run_case, wait_for  # noqa: E402
from pipeline_test import ipfix_timed  # noqa: E402


STARTED = []  # every daemon a case started: killed at exit, so a failed check leaves none running


@atexit.register
def kill_leftovers():
    for proc in STARTED:
        if proc.poll() is None:
            proc.kill()


def start(flowguard, workdir, name, *args, preexec=None):
    port = free_udp_port()
    err = os.path.join(workdir, f"{name}.stderr")
    proc = subprocess.Popen([flowguard, "--log-level", "info", "collect", "--listen", f"udp://127.0.0.1:{port}",
                             "--format", "none", *args], stdout=subprocess.DEVNULL, stderr=open(err, "w"),
                            preexec_fn=preexec)
    STARTED.append(proc)
    wait_for(lambda: "listening on" in open(err).read(), 20, "collect to listen")
    return proc, err, port


def start_run(flowguard, workdir, name, metrics, *args, preexec=None):
    """`run` (the daemon with /metrics) on a free port; returns what start() does."""
    port = free_udp_port()
    err = os.path.join(workdir, f"{name}.stderr")
    proc = subprocess.Popen([flowguard, "--log-level", "info", "run", "--listen", f"udp://127.0.0.1:{port}",
                             "--metrics-listen", f"127.0.0.1:{metrics}", "--alerts", os.path.join(workdir, "a.jsonl"),
                             *args], stdout=subprocess.DEVNULL, stderr=open(err, "w"), preexec_fn=preexec)
    STARTED.append(proc)
    wait_for(lambda: "listening on" in open(err).read(), 20, "run to listen")
    return proc, err, port


def records(count, first=0):
    now = int(time.time())
    return [(f"10.1.{(i >> 8) & 255}.{i & 255}", f"198.51.100.{i % 200}", 1024 + i % 60000, 443, 100 + i, now - 5)
            for i in range(first, first + count)]


def send(port, flows, per_datagram=30):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for seq in range(0, len(flows), per_datagram):
            s.sendto(ipfix_timed(seq, flows[seq:seq + per_datagram], int(time.time()), template=seq == 0),
                     ("127.0.0.1", port))
            if seq % 3000 == 0:
                time.sleep(0.01)  # a live exporter's pace: the receive buffer never overflows


def stop(proc, err):
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=30)
    return rc, json.loads(open(err).read().strip().splitlines()[-1])


def nfdump_lines(directory):
    out = subprocess.run(["nfdump", "-q", "-N", "-R", directory, "-o", "fmt:%sa|%da|%sp|%dp|%ibyt"],
                         capture_output=True, text=True, check=True).stdout
    return [line.replace(" ", "") for line in out.splitlines() if line.strip()]


def archive_files(directory):
    return sorted(f for f in os.listdir(directory) if f.startswith("nfcapd."))


def nfdump_reads(flowguard, workdir):
    archive = os.path.join(workdir, "archive")
    proc, err, port = start(flowguard, workdir, "collect", "--archive", archive)
    flows = records(500)
    send(port, flows)
    rc, summary = stop(proc, err)
    check(rc == 0, f"exit {rc}")
    check(summary["archive"]["flows_written"] == 500 and summary["archive"]["files_written"] >= 1,
          f"summary: {summary.get('archive')}")
    files = archive_files(archive)
    check(files and all(not f.startswith("nfcapd.current") for f in files), f"complete files only: {files}")
    lines = nfdump_lines(archive)
    check(len(lines) == 500, f"nfdump -R prints every record: {len(lines)}")
    expected = {f"{s}|{d}|{sp}|{dp}|{b}" for s, d, sp, dp, b, _ in flows}
    check(set(lines) == expected, f"the same records: {sorted(set(lines) ^ expected)[:5]}")


def archived_flows(metrics):
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=5).read().decode()
    values = [line.split()[-1] for line in text.splitlines() if line.startswith("flowguard_archive_flows_total")]
    return int(float(values[0])) if values else 0


def crash(flowguard, workdir):
    archive = os.path.join(workdir, "archive")
    metrics = free_tcp_port()
    proc, err, port = start_run(flowguard, workdir, "first", metrics, "--archive", archive)
    sent = 40000  # ~3.6 MB of records: three whole 1 MiB blocks and a partial one before the kill
    flows = records(sent)
    send(port, flows)
    # Wait until the archive writer's count stops moving: every record it was handed has its full blocks on
    # disk (a block is written when it fills), the partial one only in memory. Its count, not the file's size,
    # holds under a slow (sanitized) build that drops some datagrams and pauses between blocks, and across an
    # interval boundary (the interval's first file then complete).
    counts = []

    def handed_all():
        counts.append(archived_flows(metrics))
        time.sleep(1.0)
        return counts[-1] > 0 and counts[-1] == archived_flows(metrics)

    wait_for(handed_all, 90, "the archive writer's count to settle")
    handed = counts[-1]
    proc.kill()
    proc.wait(timeout=10)
    proc, err, port = start(flowguard, workdir, "second", "--archive", archive)
    log = open(err).read()
    check("stopped abruptly" in log and "flows recovered" in log, f"the salvage is logged: {log}")
    rc, summary = stop(proc, err)
    check(rc == 0 and summary["archive"]["files_salvaged"] == 1, f"exit {rc}, {summary.get('archive')}")
    files = archive_files(archive)
    check(not any(f.startswith("nfcapd.current") for f in files), f"no dead writer's file left: {files}")
    lines = nfdump_lines(archive)
    # Lost: at most the partial block, fewer records than fit in 1 MiB at the smallest record these flows make
    # (header, generic flow, IPv4 addresses: 76 bytes).
    lost = handed - len(lines)
    check(0 <= lost < (1 << 20) // 76, f"only the partial block is lost: {len(lines)} of {handed} archived back")
    check(len(lines) > (1 << 20) // 120, f"whole blocks were salvaged: {len(lines)} records")
    print(f"{len(lines)} of {handed} archived records ({sent} sent) back after SIGKILL: {lost} lost with the "
          "partial block")
    expected = {f"{s}|{d}|{sp}|{dp}|{b}" for s, d, sp, dp, b, _ in flows}
    check(set(lines) <= expected, "only records that were sent")


def write_error(flowguard, workdir):
    archive = os.path.join(workdir, "archive")
    metrics = free_tcp_port()

    def small_files():  # as a full disk: writes fail (EFBIG instead of ENOSPC), the process is not killed
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    proc, err, port = start_run(flowguard, workdir, "run", metrics, "--archive", archive, preexec=small_files)
    send(port, records(30000))
    wait_for(lambda: "cannot write" in open(err).read(), 30, "the failed archive write to be logged while running")
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=5).read().decode()
    lost = [line for line in text.splitlines() if line.startswith("flowguard_archive_flows_lost_total")]
    check(lost and float(lost[0].split()[-1]) > 0, f"/metrics counts the lost flows: {lost}")
    check(proc.poll() is None, "the daemon keeps running")
    rc, summary = stop(proc, err)
    check(rc == 1, f"lost flows are a failure: exit {rc}")
    check(summary["archive"]["flows_lost"] > 0 and summary["archive"]["write_errors"] > 0,
          f"summary: {summary.get('archive')}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=["nfdump_reads", "crash", "write_error"])
    ap.add_argument("--flowguard", required=True)
    a = ap.parse_args()
    body = {"nfdump_reads": nfdump_reads, "crash": crash, "write_error": write_error}[a.case]
    sys.exit(run_case(f"archive_{a.case}", lambda w: body(a.flowguard, w)))
