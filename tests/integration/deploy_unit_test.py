#!/usr/bin/python3
"""The shipped systemd unit (deploy/systemd/flowguard.service, alone and with the span-port drop-in):
`systemd-analyze verify` is clean and `systemd-analyze security --offline=true` scores it at most 2.0.
ExecStart is pointed at the built binary, since verify checks that the command exists.

  /usr/bin/python3 tests/integration/deploy_unit_test.py --flowguard build/default/app/flowguard
"""
import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, run_case  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNIT = os.path.join(ROOT, "deploy", "systemd", "flowguard.service")
DROP_IN = os.path.join(ROOT, "deploy", "systemd", "flowguard.service.d", "span-port.conf")
MAX_EXPOSURE = 2.0


def with_drop_in(unit_text):
    """The unit with the drop-in's settings appended to [Service], as systemd merges them."""
    lines = [l for l in open(DROP_IN).read().splitlines() if l and not l.startswith("#") and l != "[Service]"]
    return unit_text.replace("[Install]", "\n".join(lines) + "\n\n[Install]")


def run_units(flowguard, workdir):
    unit = open(UNIT).read().replace("/usr/local/bin/flowguard", flowguard)
    for name, text in (("flowguard.service", unit), ("flowguard-span-port.service", with_drop_in(unit))):
        path = os.path.join(workdir, name)
        with open(path, "w") as f:
            f.write(text)
        verify = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True)
        check(verify.returncode == 0 and not verify.stderr.strip(),
              f"{name}: systemd-analyze verify: rc {verify.returncode} {verify.stderr.strip()}")
        security = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", path],
                                  capture_output=True, text=True)
        match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", security.stdout + security.stderr)
        exposure = float(match.group(1)) if match else 99.0
        check(exposure <= MAX_EXPOSURE, f"{name}: exposure {exposure} above {MAX_EXPOSURE}")
        print(f"deploy_unit: {name}: verify clean, exposure {exposure}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowguard", required=True)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    return run_case("deploy_unit", lambda w: run_units(os.path.abspath(args.flowguard), w), args.keep)


if __name__ == "__main__":
    sys.exit(main())
