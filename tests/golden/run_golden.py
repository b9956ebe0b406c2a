#!/usr/bin/python3
"""Golden baselines (Zeek's btest idea): each tests/golden/<case>/ holds a command line (`cmd`) and the
expected output of `flowguard` running it: stdout, the JSON summary on stderr's last line, and any file the
command writes. A behaviour change shows up as a reviewable diff of those files.

Alerts' observer.sensor (this machine's host name by default) is compared as "<host>".

cmd is one line of arguments after `flowguard`; in it @fixtures/P is tests/fixtures/P, @case/P a file of the
case's own folder (inputs), and @out/P a file the command writes, compared with expected/P.

  run_golden.py --flowguard BIN [CASE...]            compare (exit 1 on any difference, with a diff)
  run_golden.py --flowguard BIN --update [CASE...]   rewrite expected/ from this build, on purpose

Usage in CTest: one test per case (golden_<case>).
"""
import argparse
import difflib
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(os.path.dirname(HERE), "fixtures")


def expand(token, case_dir, out_dir, outputs):
    for prefix, base in (("@fixtures/", FIXTURES), ("@case/", case_dir)):
        if token.startswith(prefix):
            return os.path.join(base, token[len(prefix):])
    if token.startswith("@out/"):
        outputs.append(token[len("@out/"):])
        return os.path.join(out_dir, token[len("@out/"):])
    if "=@" in token:  # --option=@...
        name, _, value = token.partition("=")
        return f"{name}={expand(value, case_dir, out_dir, outputs)}"
    return token


def canonical_summary(stderr):
    lines = [l for l in stderr.splitlines() if l.strip()]
    if not lines:
        return "(no summary line on stderr)\n"
    try:
        return json.dumps(json.loads(lines[-1]), indent=1, sort_keys=True) + "\n"
    except json.JSONDecodeError:
        return f"(last stderr line is not JSON) {lines[-1]}\n"


def machine_neutral(text):
    """Alerts name the sensor, by default this machine's host name: pinned as <host>."""
    return text.replace(f'"sensor":{json.dumps(socket.gethostname())}', '"sensor":"<host>"')


def run_case(flowguard, name):
    """Returns {expected file name: actual text} and the exit code."""
    case_dir = os.path.join(HERE, name)
    with open(os.path.join(case_dir, "cmd")) as f:
        tokens = shlex.split(f.read(), comments=True)
    out_dir = tempfile.mkdtemp(prefix=f"golden-{name}-")
    try:
        outputs = []
        args = [expand(t, case_dir, out_dir, outputs) for t in tokens]
        env = dict(os.environ, TZ="UTC")
        res = subprocess.run([flowguard, *args], capture_output=True, text=True, env=env, cwd=out_dir, timeout=300)
        actual = {"stdout": machine_neutral(res.stdout), "summary.json": canonical_summary(res.stderr),
                  "exit_code": f"{res.returncode}\n"}
        for rel in outputs:
            path = os.path.join(out_dir, rel)
            actual[rel] = machine_neutral(open(path).read()) if os.path.exists(path) else "(not written)\n"
        return actual, res.stderr
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def compare(name, actual):
    expected_dir = os.path.join(HERE, name, "expected")
    problems = []
    on_disk = set(os.listdir(expected_dir)) if os.path.isdir(expected_dir) else set()
    for rel, text in actual.items():
        path = os.path.join(expected_dir, rel)
        if not os.path.exists(path):
            problems.append(f"{name}: expected/{rel} is missing (run with --update to create it)")
            continue
        want = open(path).read()
        if want != text:
            diff = difflib.unified_diff(want.splitlines(True), text.splitlines(True), f"expected/{rel}", f"actual/{rel}",
                                        n=2)
            shown = "".join(list(diff)[:80])
            problems.append(f"{name}: {rel} differs\n{shown}")
    for extra in sorted(on_disk - set(actual)):
        problems.append(f"{name}: expected/{extra} is no longer produced")
    return problems


def update(name, actual):
    expected_dir = os.path.join(HERE, name, "expected")
    shutil.rmtree(expected_dir, ignore_errors=True)
    os.makedirs(expected_dir)
    for rel, text in actual.items():
        path = os.path.join(expected_dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)


def all_cases():
    return sorted(d for d in os.listdir(HERE) if os.path.isfile(os.path.join(HERE, d, "cmd")))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flowguard", required=True)
    ap.add_argument("--update", action="store_true", help="rewrite the expected files from this build")
    ap.add_argument("cases", nargs="*")
    args = ap.parse_args()
    flowguard = os.path.abspath(args.flowguard)
    cases = args.cases or all_cases()
    failures = 0
    for name in cases:
        actual, stderr = run_case(flowguard, name)
        if args.update:
            update(name, actual)
            print(f"{name}: expected/ rewritten ({', '.join(sorted(actual))})")
            continue
        problems = compare(name, actual)
        if problems:
            failures += 1
            print("\n".join(problems))
            print(f"{name}: stderr was:\n{stderr[-2000:]}")
        else:
            print(f"{name}: matches ({', '.join(sorted(actual))})")
    print(f"{len(cases) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
