#!/usr/bin/python3
"""The command line's exit codes as README documents them: 0 ok (and --help, --version), 2 for a bad
configuration or bad arguments (CLI11's own codes would be 105-109), with a message naming the problem.
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, run_case  # noqa: E402

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
    (["check-config", "/dev/null"], 0, ""),
    (["--help"], 0, ""),
    (["--version"], 0, ""),
]


def body(flowguard, workdir):
    dup = os.path.join(workdir, "dup.yml")
    with open(dup, "w") as f:
        f.write("collector:\n  max_datagram: 9000\ncollector:\n  max_datagram: 1500\n")
    for args, code, text in CASES + [(["check-config", dup], 2, "given twice")]:
        run = subprocess.run([flowguard, *args], capture_output=True, text=True, timeout=30)
        check(run.returncode == code, f"{args}: exit {run.returncode}, expected {code}")
        check(text in run.stderr + run.stdout, f"{args}: message lacks '{text}': {run.stderr.strip()[:200]}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowguard", required=True)
    a = ap.parse_args()
    sys.exit(run_case("cli", lambda w: body(a.flowguard, w)))
