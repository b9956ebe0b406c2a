#!/usr/bin/python3
"""The command line's exit codes as README documents them: 0 ok (and --help, --version), 2 for a bad
configuration or bad arguments (CLI11's own codes would be 105-109), with a message naming the problem; and
`collect --alerts -` does not mix flow records into the alerts on stdout (it warns, as `run` does).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, run_case  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")

CASES = [
    # (arguments, expected exit code, a piece of the message)
    (["check-config"], 2, "file is required"),
    (["no-such-command"], 2, ""),
    (["--log-level", "chatty", "check-config", "/dev/null"], 2, "chatty"),
    (["decode", "--port", "0", "/dev/null"], 2, "--port"),
    (["check-config", "/dev/null", "extra"], 2, "extra"),
    (["check-config", "/tmp"], 2, "is a directory"),
    (["-c", "/tmp", "run"], 2, "is a directory"),
    (["check-config", "/dev/zero"], 2, "larger than"),
    (["check-config", "/nonexistent.yml"], 2, "No such file"),
    (["meter", "--active-timeout", "0", "/dev/null"], 2, "must be longer than 0"),
    (["meter", "--idle-timeout", "0s", "/dev/null"], 2, "must be longer than 0"),
    (["check-config", "/dev/null"], 0, ""),
    (["--help"], 0, ""),
    (["--version"], 0, ""),
]


def body(flowguard, workdir):
    dup = os.path.join(workdir, "dup.yml")
    with open(dup, "w") as f:
        f.write("collector:\n  max_datagram: 9000\ncollector:\n  max_datagram: 1500\n")
    def config_file(name, text):
        path = os.path.join(workdir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def webhook(url):
        return f'alerts:\n  webhooks:\n    - name: a\n      url: "{url}"\n'

    # check-config refuses what run would refuse, and run refuses it with 2 before opening anything
    run_refuses = [
        (config_file("ioc.yml", "analyzer:\n  ioc_files: [/nonexistent-iocs.txt]\n"), "No such file"),
        (config_file("port.yml", webhook("http://127.0.0.1:99999/x")), "is not a port"),
        (config_file("bracket.yml", webhook("https://[::1")), "unclosed"),
        (config_file("space.yml", webhook("http://example.com/a b")), "space"),
        (config_file("cert.yml", "metrics:\n  tls_cert_file: /nonexistent.pem\n  tls_key_file: /nonexistent.key\n"),
         "metrics.tls_cert_file"),
    ]
    cases = CASES + [(["check-config", dup], 2, "given twice"),
                     (["check-config", config_file("upper.yml", webhook("HTTPS://example.com/x"))], 0, "")]
    for path, text in run_refuses:
        cases += [(["check-config", path], 2, text), (["-c", path, "run", "--listen", "udp://127.0.0.1:1"], 2, text)]
    for args, code, text in cases:
        run = subprocess.run([flowguard, *args], capture_output=True, text=True, timeout=30)
        check(run.returncode == code, f"{args}: exit {run.returncode}, expected {code}")
        check(text in run.stderr + run.stdout, f"{args}: message lacks '{text}': {run.stderr.strip()[:200]}")
    collect_alerts_on_stdout(flowguard, workdir)
    truncated_captures(flowguard, workdir)
    imperfect_logs(flowguard, workdir)
    names_not_utf8(flowguard)
    metrics_port_taken(flowguard)


def metrics_port_taken(flowguard):
    """A metrics port in use is named with the reason (civetweb alone says "null context")."""
    import socket
    from harness import free_udp_port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with tempfile.TemporaryDirectory() as archive:  # the embedded default would archive in /var/lib/flowguard
            run = subprocess.run([flowguard, "run", "--listen", f"udp://127.0.0.1:{free_udp_port()}", "--metrics-listen",
                                  f"127.0.0.1:{port}", "--archive", archive], capture_output=True, text=True, timeout=30)
    check(run.returncode == 1, f"metrics port taken: exit {run.returncode}")
    check(f"metrics endpoint 127.0.0.1:{port}: cannot listen: Address already in use" in run.stderr,
          f"the reason is named: {run.stderr[-300:]}")


def names_not_utf8(flowguard):
    """A passive-DNS name with a byte that is not UTF-8 comes out of `flowguard sunburst` as strict JSON."""
    run = subprocess.run([flowguard, "sunburst"], input=b"r1q6arhpujcf6jb6q\xff.appsync-api.eu-west-1.avsvmcloud.com\n",
                         capture_output=True, timeout=30)
    check(run.returncode == 0, f"sunburst: exit {run.returncode}")
    line = run.stdout.decode("utf-8")  # strict: raises on an invalid byte
    check("\\xff" in line and json.loads(line), f"the bad byte written as \\xff: {line}")


def imperfect_logs(flowguard, workdir):
    """`analyze` on JSON lines that start with a BOM or a cut line reads their good lines, names the bad ones
    with file:line, and does not count `{}` as a flow."""
    flow = '{"type":"IPFIX","src_addr":"10.0.0.1","dst_addr":"198.51.100.1","proto":"TCP","bytes":10}\n'
    bom, cut = os.path.join(workdir, "bom.jsonl"), os.path.join(workdir, "cut.jsonl")
    with open(bom, "wb") as f:
        f.write(b"\xef\xbb\xbf" + (flow * 3).encode())
    with open(cut, "w") as f:
        f.write('1","dst_addr":"198.51.100.1"}\n' + flow + "{}\n" + flow)
    run = subprocess.run([flowguard, "analyze", bom, cut], capture_output=True, text=True, timeout=60)
    summary = json.loads(run.stderr.strip().splitlines()[-1])
    check(run.returncode == 0, f"analyze: exit {run.returncode}: {run.stderr[-300:]}")
    check(summary["flows"] == 5 and summary["json_errors"] == 2, f"5 flows, 2 broken lines: {summary}")
    check(f"{cut}:1: line skipped" in run.stderr and f"{cut}:3: line skipped" in run.stderr,
          "broken lines named with file:line")


def truncated_captures(flowguard, workdir):
    """A capture cut short (as `head -c` leaves it, or a killed tcpdump) is read up to the cut, and then, as
    tcpdump does, libpcap's "truncated dump file" is logged and the run fails; a 30-byte file too."""
    whole = os.path.join(FIXTURES, "corpus", "beacon-pmacctd-v9.pcap")
    for size in (8000, 30):
        cut = os.path.join(workdir, f"cut-{size}.pcap")
        with open(whole, "rb") as f, open(cut, "wb") as out:
            out.write(f.read(size))
        for command in ("decode", "analyze", "meter"):
            run = subprocess.run([flowguard, command, cut], capture_output=True, text=True, timeout=60)
            check(run.returncode == 1, f"{command} {size} bytes: exit {run.returncode}, expected 1")
            check("truncated dump file" in run.stderr, f"{command} {size} bytes: no reason: {run.stderr[-300:]}")
            summary = json.loads(run.stderr.strip().splitlines()[-1])
            damaged = summary.get("damaged_files", summary.get("capture", {}).get("damaged_files"))
            check(damaged == 1, f"{command} {size} bytes: damaged_files {damaged}")
        if size == 8000:
            run = subprocess.run([flowguard, "decode", cut], capture_output=True, text=True, timeout=60)
            check(run.stdout.count("\n") > 0, "the records before the cut are decoded")


def collect_alerts_on_stdout(flowguard, workdir):
    """`collect --alerts -` with flow records on stdout too: warned, and no record mixed into the alerts."""
    import signal
    import time
    from harness import free_udp_port, wait_for
    port = free_udp_port()
    err = os.path.join(workdir, "collect.stderr")
    out = os.path.join(workdir, "collect.stdout")
    proc = subprocess.Popen([flowguard, "collect", "--listen", f"udp://127.0.0.1:{port}", "--alerts", "-"],
                            stdout=open(out, "w"), stderr=open(err, "w"))
    wait_for(lambda: "listening on" in open(err).read(), 20, "the collector to listen")
    import socket
    import struct
    v5 = struct.pack("!HHIIIIBBH", 5, 1, 0, int(time.time()), 0, 1, 0, 0, 0) + struct.pack(
        "!4s4s4sHHIIIIHHBBBBHHBBH", socket.inet_aton("10.0.0.1"), socket.inet_aton("10.0.0.2"), b"\0" * 4, 0, 0,
        1, 100, 0, 0, 1234, 80, 0, 0, 6, 0, 0, 0, 0, 0, 0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(v5, ("127.0.0.1", port))
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    check(proc.wait(timeout=30) == 0, "collect exited non-zero")
    check("both stdout" in open(err).read(), "collect --alerts - warns that records are not written")
    check("10.0.0.2" not in open(out).read(), "no flow record mixed into the alerts on stdout")
    summary = json.loads(open(err).read().strip().splitlines()[-1])
    check(summary["records"] == 1 and summary["records_written"] == 0, f"one record received, none written: {summary}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowguard", required=True)
    a = ap.parse_args()
    sys.exit(run_case("cli", lambda w: body(a.flowguard, w)))
