#!/usr/bin/python3
"""Pipeline tests of `flowguard collect` on 127.0.0.1.

restart_state_file: IPFIX templates and data reach the collector; it stops (saving its template state)
  and starts again; data that arrives before the exporter resends any template must decode.
flood_accounting: flowgen floods a collector whose shard channels are tiny; every decoded record is either
  delivered to a shard or counted in ring_drops, exactly.
live_alerts: `collect --alerts` runs the detectors on the shards: a periodic outbound flow becomes a beacon
  alert, a flow to a SUNBURST C2 address an IOC alert, an indicator added to a user list is matched
  after SIGHUP (not before), and a port added to the configuration's beacon allow-list silences the same
  beacon after SIGHUP (and not before).
port_group: a port already held by another SO_REUSEPORT socket is refused; a socket that joins the group
  while `run` listens is logged and shown in flowguard_listener_foreign_sockets, and cleared when it leaves.
"""
import argparse
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, free_tcp_port, free_udp_port, run_case, wait_for  # noqa: E402

def start_collector(flowguard, port, workdir, name, extra):
    err = os.path.join(workdir, f"{name}.stderr")
    out = os.path.join(workdir, f"{name}.jsonl")
    proc = subprocess.Popen([flowguard, "collect", "--listen", f"udp://127.0.0.1:{port}", "--output", out] + extra,
                            stdout=subprocess.DEVNULL, stderr=open(err, "w"))
    wait_for(lambda: "listening on" in open(err).read(), 20, "the collector to listen")
    return proc, out, err


def stop_collector(proc, err):
    proc.send_signal(signal.SIGTERM)
    check(proc.wait(timeout=30) == 0, "collector exited non-zero")
    return json.loads(open(err).read().strip().splitlines()[-1])


# IPFIX message with one template set (id 256: src, dst, ports, proto, bytes, packets) and/or data.
def ipfix(seq, template=False, records=(), export_time=None):
    sets = b""
    if template:
        fields = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 8), (2, 8)]
        body = struct.pack("!HH", 256, len(fields)) + b"".join(struct.pack("!HH", i, l) for i, l in fields)
        sets += struct.pack("!HH", 2, 4 + len(body)) + body
    if records:
        body = b"".join(struct.pack("!4s4sHHBQQ", socket.inet_aton(s), socket.inet_aton(d), sp, dp, 6, b, 1)
                        for s, d, sp, dp, b in records)
        sets += struct.pack("!HH", 256, 4 + len(body)) + body
    when = int(time.time()) if export_time is None else export_time
    return struct.pack("!HHIII", 10, 16 + len(sets), when, seq, 7) + sets


def run_restart(flowguard, workdir):
    port = free_udp_port()
    state = os.path.join(workdir, "templates.state")
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("127.0.0.1", 0))  # one exporter: the same source port before and after the restart
    proc, out1, err1 = start_collector(flowguard, port, workdir, "first", ["--state-file", state])
    sender.sendto(ipfix(0, template=True, records=[("10.0.0.1", "192.0.2.1", 40000, 443, 1000)]), ("127.0.0.1", port))
    time.sleep(0.3)
    first = stop_collector(proc, err1)
    check(first["records"] == 1, f"first run decoded {first['records']} records")
    check(os.path.exists(state), "no template state file written")

    proc, out2, err2 = start_collector(flowguard, port, workdir, "second", ["--state-file", state])
    check("1 templates loaded" in open(err2).read(), "the template was not loaded on start")
    data = [("10.0.0.%d" % i, "192.0.2.1", 40000 + i, 443, 100 * i) for i in range(2, 12)]
    sender.sendto(ipfix(1, records=data), ("127.0.0.1", port))  # no template in this message
    time.sleep(0.3)
    second = stop_collector(proc, err2)
    lines = [json.loads(l) for l in open(out2)]
    check(second["records"] == 10 and len(lines) == 10,
          f"after restart: {second['records']} records decoded, {len(lines)} written (expected 10)")
    check(second["unknown_template"] == 0, "data after restart waited for a template")
    check(sorted(r["bytes"] for r in lines) == [100 * i for i in range(2, 12)], "wrong records after restart")
    check(second["sequence_lost"] == 0, f"sequence accounting after restart: {second['sequence_lost']} lost")

    # A damaged state file costs its damaged lines only, and never stops the collector.
    with open(state, "a") as f:
        f.write("{not json\n")
    proc, _, err3 = start_collector(flowguard, port, workdir, "third", ["--state-file", state])
    check("1 rejected" in open(err3).read(), "a damaged state line was not reported")
    stop_collector(proc, err3)
    print(f"restart_state_file: 10 records decoded before any template resend; summary {second['records']}")


def run_flood(flowguard, flowgen, workdir):
    port = free_udp_port()
    config = os.path.join(workdir, "tiny.yaml")
    with open(config, "w") as f:
        f.write("pipeline:\n  shards: 1\n  batches_per_channel: 2\n")
    proc = subprocess.Popen([flowguard, "-c", config, "collect", "--listen", f"udp://127.0.0.1:{port}",
                             "--format", "json", "--output", os.devnull],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "flood.stderr"), "w"))
    time.sleep(0.5)
    sent = json.loads(subprocess.run([flowgen, "--dest", f"127.0.0.1:{port}", "--version", "9", "--duration", "2",
                                      "--exporters", "2"], capture_output=True, text=True, check=True).stdout)
    time.sleep(0.5)
    summary = stop_collector(proc, os.path.join(workdir, "flood.stderr"))
    check(summary["records"] == summary["records_delivered"] + summary["ring_drops"],
          f"records {summary['records']} != delivered {summary['records_delivered']} + ring_drops {summary['ring_drops']}")
    check(summary["records_written"] == summary["records_delivered"], "delivered records were not all written")
    check(summary["ring_drops"] > 0, "the flood did not fill the tiny channels: the test proved nothing")
    # What the kernel dropped is counted too: sent = received by the decoder + kernel drops (in datagrams).
    check(summary["packets"] + summary["kernel_drops"] == sent["packets"],
          f"sent {sent['packets']} datagrams, decoded {summary['packets']} + kernel drops {summary['kernel_drops']}")
    print(f"flood_accounting: sent {sent['records']} records; decoded {summary['records']} = delivered "
          f"{summary['records_delivered']} + ring_drops {summary['ring_drops']}; kernel_drops {summary['kernel_drops']}")


def ipfix_timed(seq, records, export_time, template=False):
    """IPFIX with template 257: src, dst, ports, proto, bytes, flowStartSeconds (150) - what exporters send."""
    sets = b""
    if template:
        fields = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 8), (150, 4)]
        body = struct.pack("!HH", 257, len(fields)) + b"".join(struct.pack("!HH", i, l) for i, l in fields)
        sets += struct.pack("!HH", 2, 4 + len(body)) + body
    body = b"".join(struct.pack("!4s4sHHBQI", socket.inet_aton(s), socket.inet_aton(d), sp, dp, 6, b, start)
                    for s, d, sp, dp, b, start in records)
    sets += struct.pack("!HH", 257, 4 + len(body)) + body
    return struct.pack("!HHIII", 10, 16 + len(sets), export_time, seq, 7) + sets


def run_live_alerts(flowguard, workdir):
    port = free_udp_port()
    iocs = os.path.join(workdir, "iocs.txt")
    with open(iocs, "w") as f:
        f.write("# user list\nexample-bad[.]com\n")
    config = os.path.join(workdir, "config.yaml")
    with open(config, "w") as f:
        f.write(f"analyzer:\n  ioc_files: [{iocs}]\n")
    alerts_path = os.path.join(workdir, "alerts.jsonl")
    err = os.path.join(workdir, "collect.stderr")
    proc = subprocess.Popen([flowguard, "-c", config, "collect", "--listen", f"udp://127.0.0.1:{port}", "--format", "none",
                             "--alerts", alerts_path], stdout=subprocess.DEVNULL, stderr=open(err, "w"))
    wait_for(lambda: "listening on" in open(err).read(), 20, "the collector to listen")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t0 = 1_700_000_000
    seq = 0
    # A flow every 60 s (+-1 s), as an exporter reports them; the same on port 8443 from another client.
    for i in range(16):
        start = t0 + 60 * i + (i % 3) - 1
        records = [("10.0.0.5", "198.51.100.7", 50000 + i, 443, 1500 + (i % 3) * 10, start),
                   ("10.0.0.10", "198.51.100.10", 50000 + i, 8443, 700 + (i % 3) * 10, start)]
        if i == 3:
            records.append(("10.0.0.6", "13.59.205.66", 50000, 443, 900, start))  # a published SUNBURST C2 address
        sock.sendto(ipfix_timed(seq, records, start + 5, template=(i == 0)), ("127.0.0.1", port))
        seq += len(records)
        time.sleep(0.01)
    sock.sendto(ipfix_timed(seq, [("10.0.0.7", "198.51.100.99", 40000, 443, 100, t0 + 2000)], t0 + 2001),
                ("127.0.0.1", port))
    seq += 1
    time.sleep(0.5)
    with open(iocs, "a") as f:
        f.write("198.51.100.99\n")
    with open(config, "a") as f:  # SIGHUP also re-reads the beacon allow-lists from the configuration file
        f.write("  beacon:\n    allow_ports: [123, 8443]\n")
    proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "SIGHUP" in open(err).read(), 20, "the SIGHUP reload")
    check("2 allow-listed ports" in open(err).read(), "SIGHUP log names the reloaded allow-list")
    time.sleep(0.2)
    sock.sendto(ipfix_timed(seq, [("10.0.0.8", "198.51.100.99", 40001, 443, 100, t0 + 2100)], t0 + 2101),
                ("127.0.0.1", port))
    seq += 1
    # After the reload, the same 60 s beacon to 8443 from a new client is allow-listed: no alert.
    for i in range(16):
        start = t0 + 3000 + 60 * i + (i % 3) - 1
        sock.sendto(ipfix_timed(seq, [("10.0.0.9", "198.51.100.8", 50000 + i, 8443, 700 + (i % 3) * 10, start)],
                                start + 5), ("127.0.0.1", port))
        seq += 1
        time.sleep(0.01)
    time.sleep(0.5)
    summary = stop_collector(proc, err)
    alerts = [json.loads(line) for line in open(alerts_path)]
    kinds = [(a["kind"], a["src_addr"], a.get("dst_addr")) for a in alerts]
    check(("beacon", "10.0.0.5", "198.51.100.7") in kinds, f"beacon alert expected: {kinds}")
    check(("ioc_address", "10.0.0.6", "13.59.205.66") in kinds, f"IOC alert expected: {kinds}")
    check(("ioc_address", "10.0.0.8", "198.51.100.99") in kinds, f"indicator added by SIGHUP must match: {kinds}")
    check(("ioc_address", "10.0.0.7", "198.51.100.99") not in kinds, f"not before SIGHUP: {kinds}")
    check(("beacon", "10.0.0.10", "198.51.100.10") in kinds, f"8443 beacon alerted before the allow-list: {kinds}")
    check(("beacon", "10.0.0.9", "198.51.100.8") not in kinds, f"8443 allow-listed by SIGHUP: {kinds}")
    check(summary.get("alerts") == len(alerts), f"summary counts the alerts: {summary.get('alerts')} vs {len(alerts)}")
    print(f"live alerts: {kinds}")


def reuseport_socket(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", port))
    return s


def run_port_group(flowguard, workdir):
    """Nobody takes a share of the exporters unseen. A program of the same user that holds the port with
    SO_REUSEPORT first: collect refuses to join its group (exit 1, the holder named). One that joins while
    collect runs: within seconds an error names it, /metrics shows flowguard_listener_foreign_sockets 1, and when
    it leaves the gauge is 0 again. Meanwhile every record our sockets receive is still counted."""
    holder = reuseport_socket(0)
    port = holder.getsockname()[1]
    run = subprocess.run([flowguard, "collect", "--listen", f"udp://127.0.0.1:{port}", "--format", "none"],
                         capture_output=True, text=True, timeout=30)
    holder.close()
    check(run.returncode == 1, f"collect joined a foreign SO_REUSEPORT group: exit {run.returncode}")
    check("the port is held by another socket" in run.stderr, f"the holder is named: {run.stderr[-300:]}")

    port, metrics = free_udp_port(), free_tcp_port()
    err = os.path.join(workdir, "guard.stderr")
    proc = subprocess.Popen([flowguard, "run", "--listen", f"udp://127.0.0.1:{port}", "--metrics-listen",
                             f"127.0.0.1:{metrics}", "--archive", os.path.join(workdir, "archive")],
                            stdout=subprocess.DEVNULL, stderr=open(err, "w"))
    wait_for(lambda: "listening on" in open(err).read(), 20, "run to listen")

    def gauge():
        text = urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=5).read().decode()
        return [line for line in text.splitlines() if line.startswith("flowguard_listener_foreign_sockets")]

    check(gauge() == ["flowguard_listener_foreign_sockets 0"], f"no foreign socket at start: {gauge()}")
    intruder = reuseport_socket(port)
    wait_for(lambda: "a foreign socket joined the port" in open(err).read(), 20, "the intruder to be named")
    check(gauge() == ["flowguard_listener_foreign_sockets 1"], f"the gauge shows it: {gauge()}")
    intruder.close()
    wait_for(lambda: gauge() == ["flowguard_listener_foreign_sockets 0"], 20, "the gauge to fall back to 0")
    proc.send_signal(signal.SIGTERM)
    check(proc.wait(timeout=30) == 0, "run exited non-zero")
    print("port_group: refused a held port; an intruder was logged and shown, then cleared")


def task_status(pid):
    """{thread name: {field: value}} for every thread of the process (/proc/PID/task/*/status)."""
    tasks = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        fields = {}
        for line in open(f"/proc/{pid}/task/{tid}/status"):
            key, _, value = line.partition(":")
            fields[key] = value.split()
        tasks[f"{fields['Name'][0]}/{tid}"] = fields
    return tasks


def run_privileges(flowguard, workdir):
    """Started as root, `run` drops every capability (all threads, bounding set too) and sets no_new_privs;
    with privileges.user it leaves uid 0, keeping only CAP_NET_RAW while a live capture is open."""
    out_dir = os.path.join(workdir, "out")
    os.makedirs(out_dir)
    os.chown(out_dir, 65534, 65534)
    os.chmod(workdir, 0o755)
    for name, user, capture, want_uid, want_caps in (("root", "", False, "0", "0000000000000000"),
                                                     ("nobody", "nobody", True, "65534", "0000000000002000")):
        port, metrics = free_udp_port(), free_tcp_port()
        # uid 0 without CAP_DAC_OVERRIDE writes only where root may as an owner: its own directory.
        out = os.path.join(out_dir if user else workdir, f"{name}.jsonl")
        config = os.path.join(workdir, f"{name}.yml")
        with open(config, "w") as f:
            f.write(f"metrics:\n  listen: 127.0.0.1:{metrics}\noutput:\n  path: {out}\n"
                    + (f"privileges:\n  user: {user}\n" if user else ""))
        err = os.path.join(workdir, f"{name}.stderr")
        argv = [flowguard, "-c", config, "run", "--listen", f"udp://127.0.0.1:{port}"] + (["-i", "lo"] if capture else [])
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(err, "w"))
        try:
            wait_for(lambda: "listening on" in open(err).read(), 20, f"{name}: run to listen")
            time.sleep(0.5)  # every thread started
            tasks = task_status(proc.pid)
            check(len(tasks) >= 4, f"{name}: only {len(tasks)} threads")
            for task, fields in tasks.items():
                check(fields["Uid"] == [want_uid] * 4, f"{name}: {task} uid {fields['Uid']}, expected {want_uid}")
                for cap in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"):
                    expected = "0000000000000000" if cap in ("CapInh", "CapAmb") else want_caps
                    check(fields[cap] == [expected], f"{name}: {task} {cap} {fields[cap]}, expected {expected}")
                check(fields["NoNewPrivs"] == ["1"], f"{name}: {task} NoNewPrivs {fields['NoNewPrivs']}")
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.sendto(ipfix(0, template=True, records=[("10.0.0.1", "10.0.0.2", 1000, 443, 99)]), ("127.0.0.1", port))
            wait_for(lambda: os.path.exists(out) and "10.0.0.2" in open(out).read(), 10, f"{name}: the record written")
        finally:
            proc.send_signal(signal.SIGTERM)
            check(proc.wait(timeout=30) == 0, f"{name}: run exited non-zero")
        log = open(err).read()
        check(("uid stays 0" in log) == (user == ""), f"{name}: the warning about uid 0 is {'missing' if not user else 'there'}")
        print(f"privileges: {name}: {len(tasks)} threads at uid {want_uid} with capabilities {want_caps}, no_new_privs;"
              " records written")
    meter_privileges(flowguard, workdir)


def meter_privileges(flowguard, workdir):
    """The standalone live meter drops the same way once its captures are open."""
    config = os.path.join(workdir, "meter.yml")
    with open(config, "w") as f:
        f.write("meter:\n  idle_timeout: 1s\nprivileges:\n  user: nobody\n")
    out, err = os.path.join(workdir, "meter.jsonl"), os.path.join(workdir, "meter.stderr")
    proc = subprocess.Popen([flowguard, "-c", config, "meter", "-i", "lo"], stdout=open(out, "w"),
                            stderr=open(err, "w"))
    try:
        wait_for(lambda: "metering on lo" in open(err).read(), 20, "meter to start")
        time.sleep(0.5)
        tasks = task_status(proc.pid)
        check(len(tasks) >= 3, f"meter: only {len(tasks)} threads")
        for task, fields in tasks.items():
            check(fields["Uid"] == ["65534"] * 4, f"meter: {task} uid {fields['Uid']}")
            check(fields["CapEff"] == ["0000000000002000"] and fields["CapBnd"] == ["0000000000002000"],
                  f"meter: {task} CapEff {fields['CapEff']} CapBnd {fields['CapBnd']}")
            check(fields["NoNewPrivs"] == ["1"], f"meter: {task} NoNewPrivs {fields['NoNewPrivs']}")
        port = free_udp_port()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(3):
            sock.sendto(b"x" * 100, ("127.0.0.1", port))
            time.sleep(0.2)
        wait_for(lambda: f'"dst_port":{port}' in open(out).read(), 15, "meter: the flow written")
    finally:
        proc.send_signal(signal.SIGTERM)
        check(proc.wait(timeout=30) == 0, "meter exited non-zero")
    print(f"privileges: meter -i lo: {len(tasks)} threads at uid 65534 with cap_net_raw only, no_new_privs; flow written")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=["restart_state_file", "flood_accounting", "live_alerts", "port_group",
                                     "privileges"])
    ap.add_argument("--flowguard", required=True)
    ap.add_argument("--flowgen")
    args = ap.parse_args()
    flowguard = os.path.abspath(args.flowguard)
    if args.case == "restart_state_file":
        return run_case(args.case, lambda workdir: run_restart(flowguard, workdir))
    if args.case == "privileges":
        if os.geteuid() != 0:
            print("skipped: needs root")
            return 77  # CTest SKIP_RETURN_CODE: reported as skipped, never as passed
        return run_case(args.case, lambda workdir: run_privileges(flowguard, workdir))
    if args.case == "port_group":
        return run_case(args.case, lambda workdir: run_port_group(flowguard, workdir))
    if args.case == "live_alerts":
        return run_case(args.case, lambda workdir: run_live_alerts(flowguard, workdir))
    return run_case(args.case, lambda workdir: run_flood(flowguard, os.path.abspath(args.flowgen), workdir))


if __name__ == "__main__":
    sys.exit(main())
