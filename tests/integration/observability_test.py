#!/usr/bin/python3
"""Observability: Grafana dashboards, Prometheus rules, docs/METRICS.md, and a real Prometheus end to end.

dashboards: every panel query parses (promtool, as a recording rule) and names only metrics that
  `flowguard metrics-doc --names` declares or recording rules of deploy/prometheus define; dashboard uids and
  panel ids are unique; grid positions lie inside the 24-column grid without overlapping; every datasource
  is the provisioned uid.
rules: `promtool check config`, `promtool check rules` and `promtool test rules` on deploy/prometheus.
metrics_doc: docs/METRICS.md is what `flowguard metrics-doc` prints.
prometheus_e2e: `flowguard run` fed by flowgen (NetFlow v9 and IPFIX) on 127.0.0.1; a real Prometheus scrapes it
  every second; PromQL through the HTTP API returns the records flowgen sent; /metrics passes `promtool check
  metrics`; basic auth refuses a scrape without credentials; after flowgen stops, the shipped
  FlowguardExporterStopped rule (threshold scaled from 300 s to 3 s for the test) fires.
prometheus_tls: /metrics over HTTPS (metrics.tls_cert_file, a certificate made by openssl) with basic auth:
  401 without or with wrong credentials, nothing over plain HTTP, `promtool check metrics` passes, and a real
  Prometheus with tls_config scrapes it (up = 1).
"""
import argparse
import base64
import glob
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, free_tcp_port, free_udp_port, make_certificate, run_case, wait_for  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(ROOT, "deploy")


def metric_names(flowguard):
    out = subprocess.run([flowguard, "metrics-doc", "--names"], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def recording_rules():
    text = open(os.path.join(DEPLOY, "prometheus", "rules", "flowguard.rules.yml")).read()
    return set(re.findall(r"record:\s*(\S+)", text))


def promtool_parses(exprs, workdir):
    """promtool has no 'parse this expression' command: each expression becomes a recording rule."""
    path = os.path.join(workdir, "exprs.yml")
    with open(path, "w") as f:
        f.write("groups:\n  - name: panels\n    rules:\n")
        for i, e in enumerate(exprs):
            f.write(f"      - record: panel:expr{i}\n        expr: {json.dumps(e)}\n")
    res = subprocess.run(["promtool", "check", "rules", path], capture_output=True, text=True)
    check(res.returncode == 0, f"promtool rejects a panel query: {res.stdout}{res.stderr}")


def run_dashboards(flowguard, workdir):
    known = metric_names(flowguard) | recording_rules() | {"up"}
    datasource = open(os.path.join(DEPLOY, "grafana", "provisioning", "datasources", "flowguard.yml")).read()
    ds_uid = re.search(r"uid:\s*(\S+)", datasource).group(1)
    uids, exprs, panels_seen = set(), [], 0
    for path in sorted(glob.glob(os.path.join(DEPLOY, "grafana", "dashboards", "*.json"))):
        name = os.path.basename(path)
        d = json.load(open(path))
        if any(p["datasource"]["type"] != "prometheus" for p in d["panels"]):
            continue  # the ClickHouse drill-down: clickhouse_test.py runs its queries on a real server
        check(d["uid"] not in uids, f"{name}: dashboard uid {d['uid']} used twice")
        uids.add(d["uid"])
        ids, cells = set(), set()
        for p in d["panels"]:
            panels_seen += 1
            check(p["id"] not in ids, f"{name}: panel id {p['id']} used twice")
            ids.add(p["id"])
            g = p["gridPos"]
            check(g["x"] >= 0 and g["y"] >= 0 and g["w"] > 0 and g["h"] > 0 and g["x"] + g["w"] <= 24,
                  f"{name}: panel {p['title']!r} has an invalid gridPos {g}")
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    check((x, y) not in cells, f"{name}: panel {p['title']!r} overlaps another at {(x, y)}")
                    cells.add((x, y))
            check(p["datasource"]["uid"] == ds_uid, f"{name}: panel {p['title']!r} uses datasource {p['datasource']}")
            for t in p["targets"]:
                check(t["datasource"]["uid"] == ds_uid, f"{name}: a target of {p['title']!r} uses another datasource")
                expr = t["expr"].replace("$exporter", ".*")
                exprs.append(expr)
                for metric in re.findall(r"\bflowguard[a-zA-Z0-9_:]*", expr):
                    check(metric in known, f"{name}: {p['title']!r} queries {metric}, which flowguard does not export")
        for v in d.get("templating", {}).get("list", []):
            m = re.search(r"label_values\((\w+)", v.get("query", ""))
            check(m is None or m.group(1) in known, f"{name}: variable {v['name']} queries an unknown metric")
    promtool_parses(exprs, workdir)
    check(len(uids) == 3, f"expected the three Prometheus dashboards, found {sorted(uids)}")
    print(f"dashboards: {len(uids)} dashboards, {panels_seen} panels, {len(exprs)} queries parse and use exported metrics")


def run_rules(flowguard, workdir):
    prom = os.path.join(DEPLOY, "prometheus")
    for cmd, cwd in ((["promtool", "check", "config", "prometheus.yml"], prom),
                     (["promtool", "check", "rules", "rules/flowguard.rules.yml"], prom),
                     (["promtool", "test", "rules", "flowguard.rules.test.yml"], os.path.join(prom, "tests"))):
        res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        check(res.returncode == 0, f"{' '.join(cmd)} failed:\n{res.stdout}{res.stderr}")
    # Every metric a rule reads is one flowguard exports.
    known = metric_names(flowguard) | recording_rules() | {"up"}
    text = open(os.path.join(prom, "rules", "flowguard.rules.yml")).read()
    for metric in set(re.findall(r"\b(flowguard_[a-z_]+)\b", text)):
        check(metric in known, f"rules use {metric}, which flowguard does not export")
    print("rules: promtool check config/rules and test rules pass")


def run_metrics_doc(flowguard, workdir):
    doc = subprocess.run([flowguard, "metrics-doc"], capture_output=True, text=True, check=True).stdout
    on_disk = open(os.path.join(ROOT, "docs", "METRICS.md")).read()
    check(doc == on_disk, "docs/METRICS.md differs from `flowguard metrics-doc` (regenerate it)")
    print(f"metrics_doc: docs/METRICS.md matches the catalogue ({len(metric_names(flowguard))} metrics)")


def http_get(url, auth=None, timeout=5, context=None):
    """(status, body); `context` is an ssl.SSLContext for https:// URLs."""
    req = urllib.request.Request(url)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    with urllib.request.urlopen(req, timeout=timeout, context=context) as r:
        return r.status, r.read().decode()


def promql(prom_port, query):
    _, body = http_get(f"http://127.0.0.1:{prom_port}/api/v1/query?" + urllib.parse.urlencode({"query": query}))
    return json.loads(body)["data"]["result"]


def start_flowguard_run(flowguard, workdir, config_text):
    """`flowguard run` on a free UDP port with this configuration: (process, log path, UDP port)."""
    udp = free_udp_port()
    config = os.path.join(workdir, "flowguard.yml")
    with open(config, "w") as f:
        f.write(config_text)
    log = os.path.join(workdir, "flowguard.log")
    fg = subprocess.Popen([flowguard, "--config", config, "run", "--listen", f"udp://127.0.0.1:{udp}"],
                          stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    wait_for(lambda: "listening on" in open(log).read(), 20, "flowguard run to listen")
    return fg, log, udp


def start_prometheus(workdir, config_text):
    """A real Prometheus on a free 127.0.0.1 port with this configuration, once ready: (process, port)."""
    prom_port = free_tcp_port()
    with open(os.path.join(workdir, "prometheus.yml"), "w") as f:
        f.write(config_text)
    prom_log = open(os.path.join(workdir, "prometheus.log"), "w")
    prom = subprocess.Popen(["prometheus", f"--config.file={workdir}/prometheus.yml",
                             f"--storage.tsdb.path={workdir}/tsdb", f"--web.listen-address=127.0.0.1:{prom_port}"],
                            cwd=workdir, stdout=prom_log, stderr=prom_log)

    def ready():
        try:
            return http_get(f"http://127.0.0.1:{prom_port}/-/ready")[0] == 200
        except (urllib.error.URLError, ConnectionError, OSError):
            return False
    try:
        wait_for(ready, 60, "prometheus to be ready")
    except RuntimeError:
        prom.terminate()
        raise
    return prom, prom_port


def stop_prometheus_and_flowguard(prom, fg):
    """SIGTERM to both (Prometheus may not have started); returns flowguard's exit code."""
    if prom:
        prom.send_signal(signal.SIGTERM)
        prom.wait(timeout=30)
    fg.send_signal(signal.SIGTERM)
    return fg.wait(timeout=30)


def run_prometheus_e2e(flowguard, flowgen, workdir):
    metrics_port = free_tcp_port()
    auth = ("prometheus", "s3cret-for-tests")
    fg, log, udp = start_flowguard_run(
        flowguard, workdir, f"metrics:\n  listen: 127.0.0.1:{metrics_port}\n  username: {auth[0]}\n  password: {auth[1]}\n"
                            f"  top_window: 2s\npipeline:\n  shards: 2\ncollector:\n  receive_threads: 2\n")
    prom = None
    try:
        try:
            http_get(f"http://127.0.0.1:{metrics_port}/metrics")
            check(False, "the metrics endpoint answered a scrape without credentials")
        except urllib.error.HTTPError as e:
            check(e.code == 401, f"scrape without credentials: HTTP {e.code}, expected 401")

        rules_dir = os.path.join(workdir, "rules")
        os.makedirs(rules_dir)
        rules = open(os.path.join(DEPLOY, "prometheus", "rules", "flowguard.rules.yml")).read()
        scaled = rules.replace("flowguard_exporter_last_seen_timestamp_seconds)) > 300\n        for: 1m",
                               "flowguard_exporter_last_seen_timestamp_seconds)) > 3\n        for: 0s")
        check(scaled != rules, "could not scale the FlowguardExporterStopped rule for the test")
        open(os.path.join(rules_dir, "flowguard.rules.yml"), "w").write(scaled)
        password_file = os.path.join(workdir, "password")
        open(password_file, "w").write(auth[1])
        prom, prom_port = start_prometheus(workdir, f"""global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [rules/flowguard.rules.yml]
scrape_configs:
  - job_name: flowguard
    basic_auth: {{username: {auth[0]}, password_file: {password_file}}}
    static_configs: [{{targets: ["127.0.0.1:{metrics_port}"]}}]
""")

        # v9 at a steady rate for a few seconds (top talkers are per window, so they are read while it runs),
        # then a burst of IPFIX.
        steady = subprocess.Popen([flowgen, "--dest", f"127.0.0.1:{udp}", "--version", "9", "--packets", "20000",
                                   "--rate", "4000", "--exporters", "4"], stdout=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: promql(prom_port, 'flowguard_top_talker_bytes{rank="1"}'), 20, "a top talker in Prometheus")
            talkers = promql(prom_port, "count(flowguard_top_talker_bytes)")
            check(talkers and talkers[0]["value"][1] == "10", f"top talkers: {talkers} (expected metrics.top_k = 10)")
        except RuntimeError as e:
            check(False, str(e))
        out, _ = steady.communicate(timeout=60)
        sent = json.loads(out.strip().splitlines()[-1])["records"]
        res = subprocess.run([flowgen, "--dest", f"127.0.0.1:{udp}", "--version", "10", "--packets", "2000",
                              "--rate", "20000", "--exporters", "4"], capture_output=True, text=True, check=True)
        sent += json.loads(res.stdout.strip().splitlines()[-1])["records"]
        seen = {"records": None}

        def counted():
            r = promql(prom_port, "sum(flowguard_records_total)")
            seen["records"] = int(float(r[0]["value"][1])) if r else None
            return seen["records"] == sent
        try:
            wait_for(counted, 30, f"Prometheus to report {sent} records")
        except RuntimeError:
            check(False, f"Prometheus reports {seen['records']} records, flowgen sent {sent}")
        print(f"prometheus: sum(flowguard_records_total) = {seen['records']} = records flowgen sent; 10 top talkers")

        status, text = http_get(f"http://127.0.0.1:{metrics_port}/metrics", auth=auth)
        res = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        check(status == 200 and res.returncode == 0, f"promtool check metrics: {res.stdout}{res.stderr}")
        by_protocol = {r["metric"]["flow_protocol"]: float(r["value"][1])
                       for r in promql(prom_port, "sum by (flow_protocol) (flowguard_records_total)")}
        check(set(by_protocol) == {"netflow_v9", "ipfix"}, f"records by flow_protocol: {by_protocol}")
        check(promql(prom_port, "sum(flowguard_ring_drops_total) + sum(flowguard_kernel_drops_total)")[0]["value"][1] == "0",
              "the pipeline dropped records at this rate")

        def stopped_alert_firing():
            _, body = http_get(f"http://127.0.0.1:{prom_port}/api/v1/alerts")
            return any(a["labels"]["alertname"] == "FlowguardExporterStopped" and a["state"] == "firing"
                       for a in json.loads(body)["data"]["alerts"])
        try:
            wait_for(stopped_alert_firing, 30, "FlowguardExporterStopped to fire")
            print("prometheus: FlowguardExporterStopped fires once flowgen has stopped")
        except RuntimeError as e:
            check(False, str(e))
    finally:
        check(stop_prometheus_and_flowguard(prom, fg) == 0, "flowguard run exited non-zero")
    summary = json.loads(open(log).read().strip().splitlines()[-1])
    check(summary["records"] == sent and summary["ring_drops"] == 0, f"flowguard summary: {summary}")


def run_prometheus_tls(flowguard, workdir):
    """/metrics over HTTPS with basic auth, scraped by a real Prometheus with tls_config."""
    cert, key = make_certificate(workdir)
    metrics_port = free_tcp_port()
    auth = ("prometheus", "s3cret-for-tests")
    fg, log, _ = start_flowguard_run(
        flowguard, workdir, f"metrics:\n  listen: 127.0.0.1:{metrics_port}\n  username: {auth[0]}\n  password: {auth[1]}\n"
                            f"  tls_cert_file: {cert}\n  tls_key_file: {key}\n")
    prom = None
    try:
        check(f"https://127.0.0.1:{metrics_port}/metrics" in open(log).read(), "the log names the HTTPS endpoint")
        context = ssl.create_default_context(cafile=cert)
        url = f"https://127.0.0.1:{metrics_port}/metrics"
        for credentials, expected in ((None, 401), (("prometheus", "wrong"), 401)):
            try:
                http_get(url, auth=credentials, context=context)
                check(False, f"HTTPS scrape with {credentials} was answered")
            except urllib.error.HTTPError as e:
                check(e.code == expected, f"HTTPS scrape with {credentials}: HTTP {e.code}, expected {expected}")
        try:
            http_get(url.replace("https://", "http://"), auth=auth)
            check(False, "plain HTTP was answered on the HTTPS endpoint")
        except (urllib.error.URLError, ConnectionError, OSError, http.client.HTTPException):
            pass
        _, text = http_get(url, auth=auth, context=context)
        lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        check(lint.returncode == 0, f"promtool check metrics over HTTPS: {lint.stdout}{lint.stderr}")

        password_file = os.path.join(workdir, "password")
        open(password_file, "w").write(auth[1])
        prom, prom_port = start_prometheus(workdir, f"""global: {{scrape_interval: 1s}}
scrape_configs:
  - job_name: flowguard
    scheme: https
    tls_config: {{ca_file: {cert}}}
    basic_auth: {{username: {auth[0]}, password_file: {password_file}}}
    static_configs: [{{targets: ["127.0.0.1:{metrics_port}"]}}]
""")

        def scraped():
            try:
                up = promql(prom_port, 'up{job="flowguard"}')
                return up and up[0]["value"][1] == "1" and promql(prom_port, "flowguard_build_info")
            except (urllib.error.URLError, ConnectionError, OSError, KeyError):
                return False
        try:
            wait_for(scraped, 60, "Prometheus to scrape flowguard over HTTPS")
            print("prometheus_tls: a real Prometheus scrapes /metrics over HTTPS with basic auth (up = 1)")
        except RuntimeError as e:
            check(False, str(e))
    finally:
        check(stop_prometheus_and_flowguard(prom, fg) == 0, "flowguard run exited non-zero")


def scrape_quickly(url, header, context=None, timeout=2.0):
    """The status of one scrape that must be answered within `timeout` seconds."""
    req = urllib.request.Request(url)
    req.add_header("Authorization", header)
    start = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as r:
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    return status, time.monotonic() - start


def hold_connections(port, count, tls_context=None, partial=False):
    """`count` connections to 127.0.0.1:port that send nothing (after a TLS handshake when a context is
    given; a request line cut short when `partial`), as an attacker without credentials would hold them."""
    held = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if tls_context is not None:
            s = tls_context.wrap_socket(s, server_hostname="127.0.0.1")
        if partial:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        held.append(s)
    return held


def run_metrics_idle_clients(flowguard, workdir):
    """Idle and slow clients cannot starve a scrape, over HTTP and HTTPS; basic auth per RFC 7617."""
    cert, key = make_certificate(workdir)
    auth = ("prometheus", "s3cret-for-tests")
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    for scheme in ("http", "https"):
        port = free_tcp_port()
        tls = f"  tls_cert_file: {cert}\n  tls_key_file: {key}\n" if scheme == "https" else ""
        sub = os.path.join(workdir, scheme)
        os.makedirs(sub)
        fg, log, _ = start_flowguard_run(
            flowguard, sub, f"metrics:\n  listen: 127.0.0.1:{port}\n  username: {auth[0]}\n  password: {auth[1]}\n{tls}")
        context = ssl.create_default_context(cafile=cert) if scheme == "https" else None
        url = f"{scheme}://127.0.0.1:{port}/metrics"
        held = []
        try:
            for header, expected in ((f"Basic {token}", 200), (f"basic {token}", 200), (f"BASIC   {token}", 200),
                                     (f"Basic {token[:-4]}", 401), (f"Basic {token}AAAA", 401),
                                     ("Basic " + base64.b64encode(b"prometheus:s3cret").decode(), 401),
                                     (f"Bearer {token}", 401)):
                status, _ = scrape_quickly(url, header, context)
                check(status == expected, f"{scheme}: '{header[:12]}...' answered {status}, expected {expected}")
            for what, kwargs in (("2 idle", dict(count=2)), ("100 idle", dict(count=100)),
                                 ("100 cut-short requests", dict(count=100, partial=True)),
                                 ("100 idle after a TLS handshake", dict(count=100, tls_context=context))):
                if "TLS" in what and context is None:
                    continue
                held += hold_connections(port, **kwargs)
                status, seconds = scrape_quickly(url, f"Basic {token}", context)
                check(status == 200, f"{scheme}: a scrape with {what} connections held: status {status}")
                print(f"metrics_idle_clients: {scheme}, {what} connections held: scrape answered in {seconds:.3f} s")
        finally:
            for s in held:
                s.close()
            fg.send_signal(signal.SIGTERM)
            check(fg.wait(timeout=30) == 0, f"{scheme}: flowguard run exited non-zero")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=["dashboards", "rules", "metrics_doc", "prometheus_e2e", "prometheus_tls",
                                     "metrics_idle_clients"])
    ap.add_argument("--flowguard", required=True)
    ap.add_argument("--flowgen")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    flowguard = os.path.abspath(args.flowguard)
    bodies = {
        "dashboards": lambda w: run_dashboards(flowguard, w),
        "rules": lambda w: run_rules(flowguard, w),
        "metrics_doc": lambda w: run_metrics_doc(flowguard, w),
        "prometheus_e2e": lambda w: run_prometheus_e2e(flowguard, os.path.abspath(args.flowgen), w),
        "prometheus_tls": lambda w: run_prometheus_tls(flowguard, w),
        "metrics_idle_clients": lambda w: run_metrics_idle_clients(flowguard, w),
    }
    return run_case(args.case, bodies[args.case], args.keep)


if __name__ == "__main__":
    sys.exit(main())
