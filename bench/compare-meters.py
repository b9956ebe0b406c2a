#!/usr/bin/python3
"""CPU seconds to meter one large span-port capture into flows: flowguard meter against nfpcapd (nfdump),
softflowd -r and pmacctd (nfprobe), one after another in the same run, with the same timeouts.

    bench/compare-meters.py [--packets 3000000] [--runs 3] [--pcap FILE] [--seed 1] [--other-build BIN]

CPU is user+sys of each tool's whole process tree (children reaped, so their time is counted), median over
--runs; the ratio is the peer's CPU over flowguard's. Each tool writes or exports its flows as it would in
production: flowguard meter with --format none (flows counted, DNS parsed) and with --export (IPFIX to a
UDP sink, the role softflowd and pmacctd's nfprobe play), nfpcapd writing nfcapd files, softflowd and
pmacctd exporting NetFlow v9/IPFIX to the same sink. Needs the release build and deploy/setup.sh's packages.
FLOWGUARD=BIN measures another flowguard build instead; --other-build BIN measures one more beside this one
(an older commit's release build), interleaved in the same run, so a change is compared on the same machine
and the same day.
"""
import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLOWGUARD = os.environ.get("FLOWGUARD", os.path.join(ROOT, "build/release/app/flowguard"))
PCAPGEN = os.path.join(ROOT, "build/release/bench/pcapgen")
ACTIVE_S, IDLE_S = 300, 15  # the same timeouts for every meter


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measured(run):
    """CPU seconds of the processes `run` starts and reaps, and its wall time."""
    cpu0, wall0 = children_cpu(), time.monotonic()
    info = run()
    return children_cpu() - cpu0, time.monotonic() - wall0, info


def flowguard(pcap, extra, binary=None):
    def run():
        res = subprocess.run([binary or FLOWGUARD, "meter", "--format", "none", "--idle-timeout", f"{IDLE_S}s",
                              "--active-timeout", f"{ACTIVE_S}s"] + extra + [pcap],
                             capture_output=True, text=True, check=True)
        summary = json.loads(res.stderr.strip().splitlines()[-1])
        return f"{summary['records']} flows, {summary['dns_messages']} DNS messages"
    return run


def nfpcapd(pcap, work):
    def run():
        out = tempfile.mkdtemp(dir=work)
        subprocess.run(["nfpcapd", "-r", pcap, "-w", out, "-e", f"{ACTIVE_S},{IDLE_S}"], capture_output=True, check=True)
        stat = subprocess.run(["nfdump", "-R", out, "-I"], capture_output=True, text=True).stdout
        flows = next((line.split(":")[1].strip() for line in stat.splitlines() if line.startswith("Flows:")), "?")
        shutil.rmtree(out, ignore_errors=True)
        return f"{flows} flows"
    return run


def softflowd(pcap, sink_port, work):
    def run():
        ctl = os.path.join(work, "sf.ctl")
        # -d: stay in the foreground; -r: read the file; flows are exported as IPFIX to the sink.
        proc = subprocess.Popen(["softflowd", "-d", "-r", pcap, "-n", f"127.0.0.1:{sink_port}", "-v", "10",
                                 "-c", ctl, "-p", os.path.join(work, "sf.pid"), "-t", f"maxlife={ACTIVE_S}",
                                 "-t", f"general={IDLE_S}", "-m", "2000000"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # softflowd -r does not exit at the end of the file: wait until it has read every packet.
        while True:
            time.sleep(0.2)
            if proc.poll() is not None:
                break
            out = subprocess.run(["softflowctl", "-c", ctl, "statistics"], capture_output=True, text=True).stdout
            done = sum(int(line.split(":")[1].split()[0]) for line in out.splitlines()
                       if line.startswith(("Packets processed:", "Ignored packets:")))
            if done >= PACKETS:
                subprocess.run(["softflowctl", "-c", ctl, "shutdown"], capture_output=True)
                break
        proc.wait(timeout=120)
        return "exported to the sink"
    return run


def pmacctd(pcap, sink_port, work):
    def run():
        conf = os.path.join(work, "pmacctd.conf")
        with open(conf, "w") as f:
            f.write(f"pcap_savefile: {pcap}\npcap_savefile_wait: false\ndaemonize: false\n"
                    "plugins: nfprobe[n]\n"
                    f"nfprobe_receiver[n]: 127.0.0.1:{sink_port}\nnfprobe_version[n]: 10\n"
                    f"nfprobe_timeouts[n]: maxlife={ACTIVE_S}:general={IDLE_S}\n"
                    "plugin_pipe_size[n]: 10240000\nplugin_buffer_size[n]: 10240\n")
        subprocess.run(["pmacctd", "-f", conf], capture_output=True, timeout=600)
        return "exported to the sink"
    return run


def main():
    global PACKETS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packets", type=int, default=3_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pcap", help="use this capture instead of generating one (give --packets its packet count)")
    ap.add_argument("--other-build", help="another flowguard binary to measure beside this one")
    ap.add_argument("--flowguard-only", action="store_true", help="leave the peers out")
    args = ap.parse_args()
    PACKETS = args.packets
    for tool in (FLOWGUARD, PCAPGEN):
        if not os.access(tool, os.X_OK):
            sys.exit(f"{tool} missing: cmake --preset release && cmake --build --preset release")
    work = tempfile.mkdtemp(prefix="compare-meters-")
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # never read: exports cost the sender only
    sink.bind(("127.0.0.1", 0))
    sink_port = sink.getsockname()[1]
    try:
        pcap = args.pcap
        if not pcap:
            pcap = os.path.join(work, "span.pcap")
            gen = subprocess.run([PCAPGEN, "--packets", str(args.packets), "--seed", str(args.seed), "--output", pcap],
                                 capture_output=True, text=True, check=True)
            print(f"capture: {gen.stdout.strip()} ({os.path.getsize(pcap) / 1e6:.0f} MB, snaplen 128)")
        subprocess.run(["cat", pcap], stdout=subprocess.DEVNULL, check=True)  # page cache warm for everyone
        tools = [
            ("flowguard meter", flowguard(pcap, [])),
            ("flowguard meter --export (IPFIX)", flowguard(pcap, ["--export", f"udp://127.0.0.1:{sink_port}"])),
            ("nfpcapd -r (nfdump 1.7)", nfpcapd(pcap, work)),
            ("softflowd -r (IPFIX)", softflowd(pcap, sink_port, work)),
            ("pmacctd nfprobe (IPFIX)", pmacctd(pcap, sink_port, work)),
        ]
        if args.flowguard_only:
            tools = tools[:2]
        if args.other_build:
            tools[2:2] = [("flowguard meter [other build]", flowguard(pcap, [], args.other_build)),
                          ("flowguard meter --export [other build]",
                           flowguard(pcap, ["--export", f"udp://127.0.0.1:{sink_port}"], args.other_build))]
        results = {}
        for run_index in range(args.runs):
            for name, run in tools:  # interleaved, so drifts of the machine hit every tool alike
                cpu, wall, info = measured(run)
                results.setdefault(name, []).append((cpu, wall, info))
        base = statistics.median(c for c, _, _ in results["flowguard meter"])
        export_base = statistics.median(c for c, _, _ in results["flowguard meter --export (IPFIX)"])
        print(f"| meter | CPU s (median of {args.runs}) | ns CPU / packet | wall s | vs flowguard | vs flowguard --export | output |")
        print("|---|---|---|---|---|---|---|")
        for name, rows in results.items():
            cpu = statistics.median(c for c, _, _ in rows)
            wall = statistics.median(w for _, w, _ in rows)
            print(f"| {name} | {cpu:.2f} | {cpu / args.packets * 1e9:.0f} | {wall:.2f} | {cpu / base:.1f}x | "
                  f"{cpu / export_base:.1f}x | {rows[-1][2]} |")
    finally:
        sink.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
