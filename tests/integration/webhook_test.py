#!/usr/bin/python3
"""Alert webhooks of `flowguard run` against real HTTP receivers on 127.0.0.1.

spool_and_deliver: a Python http.server receiver (the real HTTP stack of the standard library) is down at
  first: alerts wait in the disk spool (files on disk, spool depth and connect failures on /metrics) and
  stay there across a restart of flowguard. With the receiver up (answering 500 once, then 200) the second
  run delivers every spooled alert exactly once per webhook: generic JSON with a valid HMAC-SHA256
  signature (checked here with Python's hmac), Slack and PagerDuty Events v2 bodies; a webhook whose
  receiver answers 400 moves alerts to rejected/; a webhook with min_severity critical gets nothing.
https: the same receiver behind TLS (a certificate made here with openssl for 127.0.0.1): a webhook that
  trusts it through ca_file delivers; one that trusts only the system CAs fails with reason "tls" and keeps
  its alerts spooled.
alertmanager: a real Alertmanager (Debian's prometheus-alertmanager) receives the alerts on its API v2;
  they are listed by its own /api/v2/alerts with flowguard's labels.
lifecycle: findings across a restart, with a real Alertmanager, a PagerDuty receiver and a generic webhook:
  the first run opens the beacon and IOC findings (PagerDuty triggers, Alertmanager alerts whose endsAt lies
  beyond the quiet period); the second run, on the same alerts.state_file, detects both again and re-sends
  nothing; once they have been quiet for alerts.resolve_after it resolves them: PagerDuty gets a resolve per
  dedup key, Alertmanager stops listing them before the endsAt it had, the generic webhook gets status
  resolved. Every PagerDuty body is checked against the Events API v2 schema (tests/fixtures/pagerduty/).
analyze: a retro-hunt sends its alerts through the same alert path: `flowguard analyze` of the corpus beacon
  capture delivers the beacon alert to a generic webhook (signed, body identical to the JSON line it prints)
  before it exits, and leaves nothing in the spool.
"""
import argparse
import hashlib
import hmac
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, free_tcp_port, free_udp_port, make_certificate, run_case, scrape, wait_for  # noqa: E402
from pipeline_test import ipfix_timed  # noqa: E402

SECRET = "s3cret-for-tests"
# The beacon these tests send lasts 16 minutes: reported when decided, not after beacon.hold (1 h of event
# time, which these tests are not about).
REPORT_AT_ONCE = "analyzer:\n  beacon:\n    hold: 0s\n"


class Receiver:
    """A real HTTP server that records every request and answers with a status chosen per path."""

    def __init__(self, port, tls_files=None):
        self.requests = []
        self.status = {}       # path -> status code (default 200)
        self.fail_first = {}   # path -> how many requests to answer 500 first
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append((self.path, dict(self.headers), body))
                code = receiver.status.get(self.path, 200)
                if receiver.fail_first.get(self.path, 0) > 0:
                    receiver.fail_first[self.path] -= 1
                    code = 500
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        if tls_files:
            import ssl
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls_files)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def on(self, path):
        return [(h, b) for p, h, b in self.requests if p == path]


def metric(port, name, labels):
    """One series' value (labels in the order flowguard prints them), or None."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return scrape(port).get(f"{name}{{{want}}}" if labels else name)


def start_run(flowguard, config, workdir, name, udp_port, metrics_port):
    err = os.path.join(workdir, f"{name}.stderr")
    alerts = os.path.join(workdir, f"{name}.alerts.jsonl")
    proc = subprocess.Popen([flowguard, "-c", config, "run", "--listen", f"udp://127.0.0.1:{udp_port}",
                             "--metrics-listen", f"127.0.0.1:{metrics_port}", "--alerts", alerts],
                            stdout=subprocess.DEVNULL, stderr=open(err, "w"))
    wait_for(lambda: "listening on" in open(err).read(), 20, f"{name} to listen")
    return proc, err, alerts


def stop_run(proc, err):
    proc.send_signal(signal.SIGTERM)
    check(proc.wait(timeout=60) == 0, "flowguard run exited non-zero")
    return json.loads(open(err).read().strip().splitlines()[-1])


def send_detections(udp_port):
    """A 60 s beacon (10.0.0.5 -> 198.51.100.7:443) and a flow to a published SUNBURST C2 address."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t0, seq = 1_700_000_000, 0
    for i in range(16):
        start = t0 + 60 * i + (i % 3) - 1
        records = [("10.0.0.5", "198.51.100.7", 50000 + i, 443, 1500 + (i % 3) * 10, start)]
        if i == 3:
            records.append(("10.0.0.6", "13.59.205.66", 50000, 443, 900, start))
        sock.sendto(ipfix_timed(seq, records, start + 5, template=(i == 0)), ("127.0.0.1", udp_port))
        seq += len(records)
        time.sleep(0.01)


def run_spool_and_deliver(flowguard, workdir):
    http_port = free_tcp_port()
    spool = os.path.join(workdir, "spool")
    config = os.path.join(workdir, "config.yaml")
    base = f"http://127.0.0.1:{http_port}"
    with open(config, "w") as f:
        f.write(f"""{REPORT_AT_ONCE}alerts:
  spool_dir: {spool}
  retry_max: 2s
  webhooks:
    - {{name: tickets, kind: generic, url: "{base}/hooks/flowguard", secret: {SECRET}, timeout: 2s,
       headers: {{X-Team: soc}}}}
    - {{name: chat, kind: slack, url: "{base}/slack"}}
    - {{name: pager, kind: pagerduty, url: "{base}/v2/enqueue", routing_key: R0UT1NGKEY}}
    - {{name: refuses, kind: generic, url: "{base}/refuse"}}
    - {{name: critical-only, kind: generic, url: "{base}/critical", min_severity: critical}}
""")
    udp_port, metrics_port = free_udp_port(), free_tcp_port()

    # 1. The receiver is down: alerts are spooled, delivery fails with "connect", and nothing is lost.
    proc, err, alerts_path = start_run(flowguard, config, workdir, "first", udp_port, metrics_port)
    send_detections(udp_port)
    wait_for(lambda: os.path.exists(alerts_path) and len(open(alerts_path).readlines()) >= 2, 20, "alerts")
    wait_for(lambda: (metric(metrics_port, "flowguard_webhook_failures_total",
                             {"webhook": "tickets", "reason": "connect"}) or 0) >= 1, 20, "a connect failure")
    alerts = [json.loads(line) for line in open(alerts_path)]
    n = len(alerts)
    check(metric(metrics_port, "flowguard_webhook_spool_depth", {"webhook": "tickets"}) == n,
          f"every alert waits in the tickets spool ({n})")
    check(metric(metrics_port, "flowguard_webhook_spool_depth", {"webhook": "critical-only"}) == 0,
          "a webhook wanting only critical alerts spools none of these")
    check(metric(metrics_port, "flowguard_webhook_deliveries_total", {"webhook": "tickets"}) == 0, "nothing delivered")
    exposition = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read()
    lint = subprocess.run(["promtool", "check", "metrics"], input=exposition, capture_output=True)
    check(lint.returncode == 0, f"promtool check metrics with webhook series: {lint.stdout}{lint.stderr}")
    summary = stop_run(proc, err)
    hooks = {h["name"]: h for h in summary.get("webhooks", [])}
    check(hooks.get("tickets", {}).get("spool_depth") == n, f"summary: spooled alerts left for the next run: {hooks}")
    on_disk = sorted(f for f in os.listdir(os.path.join(spool, "tickets")) if f.endswith(".json"))
    check(len(on_disk) == n, f"{n} spool files on disk after the stop: {on_disk}")

    # 2. The receiver is up (one 500 first): the next run delivers what the first one spooled.
    receiver = Receiver(http_port)
    receiver.fail_first["/hooks/flowguard"] = 1
    receiver.status["/refuse"] = 400
    try:
        proc, err, _ = start_run(flowguard, config, workdir, "second", udp_port, metrics_port)
        wait_for(lambda: len(receiver.on("/v2/enqueue")) >= n and len(receiver.on("/slack")) >= n, 20,
                 "slack and pagerduty deliveries")
        wait_for(lambda: (metric(metrics_port, "flowguard_webhook_deliveries_total", {"webhook": "tickets"}) or 0) >= n,
                 30, "the generic webhook to deliver after its retry")
        wait_for(lambda: (metric(metrics_port, "flowguard_webhook_failures_total",
                                 {"webhook": "refuses", "reason": "rejected"}) or 0) >= n, 20, "rejections")
        check(metric(metrics_port, "flowguard_webhook_failures_total",
                     {"webhook": "tickets", "reason": "http_status"}) == 1, "the 500 was counted and retried")
        check(metric(metrics_port, "flowguard_webhook_spool_depth", {"webhook": "tickets"}) == 0, "spool emptied")
        summary = stop_run(proc, err)
    finally:
        receiver.stop()

    generic = receiver.on("/hooks/flowguard")
    delivered = [json.loads(b) for h, b in generic[1:]]  # the first answer was the 500
    check(sorted(a["id"] for a in delivered) == sorted(a["id"] for a in alerts),
          "each alert delivered once to the generic webhook, as the JSON-lines output has it")
    for headers, body in generic:
        ts = headers.get("X-Flowguard-Timestamp", "")
        want = "sha256=" + hmac.new(SECRET.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
        check(headers.get("X-Flowguard-Signature") == want, "HMAC-SHA256 signature over timestamp.body verifies")
        check(headers.get("X-Team") == "soc", "configured headers are sent")
        check(headers.get("Content-Type") == "application/json", "JSON content type")
    slack = [json.loads(b) for h, b in receiver.on("/slack")]
    check(len(slack) == n and all("flowguard" in m["text"] and "```" in m["text"] for m in slack), f"Slack text: {slack}")
    pages = [json.loads(b) for h, b in receiver.on("/v2/enqueue")]
    check(len(pages) == n, f"one PagerDuty event per alert: {len(pages)}")
    for p in pages:
        check(p["routing_key"] == "R0UT1NGKEY" and p["event_action"] == "trigger" and p["dedup_key"],
              f"PagerDuty Events v2 envelope: {p}")
        check(p["payload"]["severity"] in ("critical", "error", "warning", "info") and p["payload"]["summary"],
              f"PagerDuty payload: {p['payload']}")
    check(not receiver.on("/critical"), "min_severity critical: no delivery")
    rejected = os.listdir(os.path.join(spool, "refuses", "rejected"))
    check(len(rejected) == n, f"alerts refused with 400 are kept in rejected/: {rejected}")
    check(not [f for f in os.listdir(os.path.join(spool, "tickets")) if f.endswith(".json")], "tickets spool empty")
    hooks = {h["name"]: h for h in summary.get("webhooks", [])}
    check(hooks.get("tickets", {}).get("deliveries") == n, f"summary counts deliveries: {hooks}")
    print(f"webhooks: {n} alerts spooled while the receiver was down, delivered after restart; "
          f"{len(generic)} generic requests, {len(slack)} slack, {len(pages)} pagerduty, {len(rejected)} rejected")


def run_https(flowguard, workdir):
    cert, key = make_certificate(workdir)
    https_port = free_tcp_port()
    config = os.path.join(workdir, "config.yaml")
    with open(config, "w") as f:
        f.write(f"""{REPORT_AT_ONCE}alerts:
  spool_dir: {workdir}/spool
  webhooks:
    - {{name: trusted, kind: generic, url: "https://127.0.0.1:{https_port}/in", ca_file: {cert}, secret: {SECRET}}}
    - {{name: untrusted, kind: generic, url: "https://127.0.0.1:{https_port}/in", timeout: 2s}}
""")
    receiver = Receiver(https_port, (cert, key))
    try:
        udp_port, metrics_port = free_udp_port(), free_tcp_port()
        proc, err, alerts_path = start_run(flowguard, config, workdir, "https", udp_port, metrics_port)
        send_detections(udp_port)
        wait_for(lambda: os.path.exists(alerts_path) and len(open(alerts_path).readlines()) >= 2, 20, "alerts")
        n = len(open(alerts_path).readlines())
        wait_for(lambda: (metric(metrics_port, "flowguard_webhook_deliveries_total", {"webhook": "trusted"}) or 0) >= n,
                 20, "delivery over TLS")
        wait_for(lambda: (metric(metrics_port, "flowguard_webhook_failures_total",
                                 {"webhook": "untrusted", "reason": "tls"}) or 0) >= 1, 20, "a TLS failure")
        check(metric(metrics_port, "flowguard_webhook_spool_depth", {"webhook": "untrusted"}) == n,
              "an unverifiable receiver gets nothing: the alerts stay spooled")
        summary = stop_run(proc, err)
    finally:
        receiver.stop()
    check(len(receiver.on("/in")) == n, f"{n} deliveries over HTTPS, none from the unverified webhook")
    hooks = {h["name"]: h for h in summary.get("webhooks", [])}
    print(f"https: {n} alerts delivered with ca_file; system-CA webhook failures {hooks.get('untrusted', {}).get('failures')}")


def start_alertmanager(workdir):
    """Debian's prometheus-alertmanager on 127.0.0.1 (no cluster): (process, port), once it is ready."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        raise RuntimeError("prometheus-alertmanager is not installed (deploy/setup.sh)")
    am_port = free_tcp_port()
    am_config = os.path.join(workdir, "alertmanager.yml")
    with open(am_config, "w") as f:
        f.write("route:\n  receiver: none\nreceivers:\n  - name: none\n")
    am = subprocess.Popen([binary, f"--config.file={am_config}", f"--storage.path={workdir}/am-data",
                           f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
                          stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "alertmanager.log"), "w"))

    def ready():
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{am_port}/-/ready", timeout=1).status == 200
        except OSError:
            return False
    wait_for(ready, 30, "alertmanager to be ready")
    return am, am_port


def alertmanager_alerts(am_port):
    """What Alertmanager's API v2 lists (active, not yet resolved alerts)."""
    return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{am_port}/api/v2/alerts", timeout=5).read())


def run_alertmanager(flowguard, workdir):
    am, am_port = start_alertmanager(workdir)
    try:
        config = os.path.join(workdir, "config.yaml")
        with open(config, "w") as f:
            f.write(f"{REPORT_AT_ONCE}alerts:\n  spool_dir: {workdir}/spool\n  webhooks:\n"
                    f"    - {{name: am, kind: alertmanager, url: \"http://127.0.0.1:{am_port}/\"}}\n")
        udp_port, metrics_port = free_udp_port(), free_tcp_port()
        proc, err, alerts_path = start_run(flowguard, config, workdir, "am", udp_port, metrics_port)
        send_detections(udp_port)

        def listed():
            return [a["labels"] for a in alertmanager_alerts(am_port)]
        wait_for(lambda: any(l.get("kind") == "ioc_address" for l in listed()), 30, "the alert in Alertmanager")
        labels = listed()
        summary = stop_run(proc, err)
        hooks = {h["name"]: h for h in summary.get("webhooks", [])}
        alerts = [json.loads(line) for line in open(alerts_path)]
        ioc = [l for l in labels if l.get("kind") == "ioc_address"]
        ioc_line = [a for a in alerts if a["kind"] == "ioc_address"]
        check(ioc and ioc_line and ioc[0].get("alertname") == "FlowguardDetection"
              and ioc[0].get("src_addr") == "10.0.0.6" and ioc[0].get("dedup_key") == ioc_line[0]["dedup_key"]
              and ioc[0].get("severity") == ioc_line[0]["severity"],
              f"Alertmanager lists the IOC alert with flowguard's labels: {labels}")
        check(len(labels) == len(alerts), f"one Alertmanager alert per flowguard alert: {len(labels)} vs {len(alerts)}")
        check(hooks.get("am", {}).get("deliveries") == len(alerts) and hooks["am"].get("spool_depth") == 0,
              f"every alert accepted by Alertmanager: {hooks} for {len(alerts)} alerts")
        print(f"alertmanager: {len(labels)} alerts listed, labels {ioc[0] if ioc else None}")
    finally:
        am.terminate()
        am.wait(timeout=30)


PAGERDUTY_KEY = "R0UT1NGKEY0123456789ABCDEFGHIJKL"  # 32 characters, as PagerDuty's integration keys


def run_lifecycle(flowguard, workdir):
    import jsonschema  # Debian's python3-jsonschema (deploy/setup.sh)
    here = os.path.dirname(os.path.abspath(__file__))
    schema = json.load(open(os.path.join(here, "..", "fixtures", "pagerduty", "events-v2-alert.schema.json")))
    am, am_port = start_alertmanager(workdir)
    http_port = free_tcp_port()
    receiver = Receiver(http_port)
    config = os.path.join(workdir, "config.yaml")
    state = os.path.join(workdir, "findings.json")
    quiet_s = 12
    with open(config, "w") as f:
        f.write(f"""{REPORT_AT_ONCE}alerts:
  spool_dir: {workdir}/spool
  state_file: {state}
  resolve_after: {quiet_s}s
  sensor: sensor-a
  retry_max: 1s
  webhooks:
    - {{name: am, kind: alertmanager, url: "http://127.0.0.1:{am_port}/"}}
    - {{name: pd, kind: pagerduty, url: "http://127.0.0.1:{http_port}/v2/enqueue", routing_key: {PAGERDUTY_KEY}}}
    - {{name: tickets, kind: generic, url: "http://127.0.0.1:{http_port}/tickets"}}
""")

    def pagerduty(action):
        return [json.loads(b) for _, b in receiver.on("/v2/enqueue") if json.loads(b)["event_action"] == action]

    def tickets(status):
        return [json.loads(b) for _, b in receiver.on("/tickets") if json.loads(b)["status"] == status]
    try:
        # First run: the findings open.
        udp_port, metrics_port = free_udp_port(), free_tcp_port()
        proc, err, _ = start_run(flowguard, config, workdir, "first", udp_port, metrics_port)
        send_detections(udp_port)
        wait_for(lambda: len({e["dedup_key"] for e in pagerduty("trigger")}) >= 2, 30, "two PagerDuty triggers")
        wait_for(lambda: len(alertmanager_alerts(am_port)) >= 2, 30, "two alerts in Alertmanager")
        opened = {e["dedup_key"] for e in pagerduty("trigger")}
        stop_run(proc, err)
        check(len(tickets("open")) == len(opened), f"one open ticket per finding: {len(tickets('open'))}")
        saved = json.load(open(state))
        check({f["alert"]["dedup_key"] for f in saved["findings"]} == opened,
              f"the state file holds the open findings: {[f['alert']['dedup_key'] for f in saved['findings']]}")

        # Second run on the same state: found again, not re-sent; then resolved after the quiet period.
        triggers_before, tickets_before = len(pagerduty("trigger")), len(receiver.on("/tickets"))
        udp_port, metrics_port = free_udp_port(), free_tcp_port()
        proc, err, alerts_path = start_run(flowguard, config, workdir, "second", udp_port, metrics_port)
        send_detections(udp_port)
        wait_for(lambda: (metric(metrics_port, "flowguard_findings_found_again_total", {}) or 0) >= 2, 30,
                 "both findings detected again")
        time.sleep(1)
        check(len(pagerduty("trigger")) == triggers_before, "no PagerDuty trigger re-sent after the restart")
        check(len(receiver.on("/tickets")) == tickets_before, "no ticket re-sent after the restart")
        ends = [a["endsAt"] for a in alertmanager_alerts(am_port)]
        check(len(ends) == 2, f"Alertmanager still lists both findings after the restart: {ends}")
        wait_for(lambda: {e["dedup_key"] for e in pagerduty("resolve")} >= opened, quiet_s + 30,
                 "PagerDuty resolves for every finding")
        wait_for(lambda: not alertmanager_alerts(am_port), 15, "Alertmanager to drop the resolved alerts")
        latest_end = max(ends) if ends else ""
        now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        check(now < latest_end[:19], f"Alertmanager resolved them at flowguard's word ({now}), not at endsAt "
                                     f"{latest_end}")
        check({t["dedup_key"] for t in tickets("resolved")} == opened, "the generic webhook got each resolution")
        summary = stop_run(proc, err)
        lines = [json.loads(line) for line in open(alerts_path)]
        check(sorted(a["status"] for a in lines) == ["resolved"] * len(opened),
              f"the second run's alert log holds the resolutions only: {[a['status'] for a in lines]}")
        check(all(a["observer"]["sensor"] == "sensor-a" for a in lines), "alerts name the sensor")
        check(json.load(open(state))["findings"] == [], "nothing open in the state file any more")
        for _, body in receiver.on("/v2/enqueue"):
            try:
                jsonschema.validate(json.loads(body), schema)
            except jsonschema.ValidationError as e:
                check(False, f"PagerDuty body against Events API v2: {e.message}: {body[:200]!r}")
        hooks = {h["name"]: h for h in summary.get("webhooks", [])}
        check(all(hooks[n]["spool_depth"] == 0 for n in ("am", "pd", "tickets")), f"spools empty: {hooks}")
        print(f"lifecycle: {len(opened)} findings opened, none re-sent after the restart, "
              f"{len(pagerduty('resolve'))} PagerDuty resolves, Alertmanager cleared before {latest_end}")
    finally:
        receiver.stop()
        am.terminate()
        am.wait(timeout=30)


def run_analyze(flowguard, workdir):
    http_port = free_tcp_port()
    spool = os.path.join(workdir, "spool")
    config = os.path.join(workdir, "config.yaml")
    with open(config, "w") as f:
        f.write(f"""{REPORT_AT_ONCE}alerts:
  spool_dir: {spool}
  webhooks:
    - {{name: tickets, kind: generic, url: "http://127.0.0.1:{http_port}/hooks/flowguard", secret: {SECRET}}}
""")
    receiver = Receiver(http_port)
    try:
        capture = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "corpus", "beacon.pcap")
        res = subprocess.run([flowguard, "-c", config, "analyze", capture], capture_output=True, text=True, timeout=60)
        check(res.returncode == 0, f"analyze exited {res.returncode}: {res.stderr[-500:]}")
        printed = [line for line in res.stdout.splitlines() if line.strip()]
        delivered = receiver.on("/hooks/flowguard")
        check(len(printed) == 1 and len(delivered) == 1,
              f"one alert printed and delivered expected: {len(printed)} printed, {len(delivered)} delivered")
        if printed and delivered:
            headers, body = delivered[0]
            check(json.loads(body) == json.loads(printed[0]), "the webhook body is the alert analyze printed")
            stamp = headers.get("X-Flowguard-Timestamp", "")
            want = "sha256=" + hmac.new(SECRET.encode(), (stamp + ".").encode() + body, hashlib.sha256).hexdigest()
            check(headers.get("X-Flowguard-Signature") == want, "the delivery is signed")
        left = [f for f in os.listdir(os.path.join(spool, "tickets")) if f.endswith(".json")]
        check(not left, f"nothing left in the spool: {left}")
        print(f"analyze: {len(delivered)} alert(s) delivered to the webhook before exit")
    finally:
        receiver.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=["spool_and_deliver", "https", "alertmanager", "lifecycle", "analyze"])
    ap.add_argument("--flowguard", required=True)
    args = ap.parse_args()
    flowguard = os.path.abspath(args.flowguard)
    if args.case == "spool_and_deliver":
        return run_case(args.case, lambda workdir: run_spool_and_deliver(flowguard, workdir))
    if args.case == "https":
        return run_case(args.case, lambda workdir: run_https(flowguard, workdir))
    if args.case == "analyze":
        return run_case(args.case, lambda workdir: run_analyze(flowguard, workdir))
    if args.case == "lifecycle":
        return run_case(args.case, lambda workdir: run_lifecycle(flowguard, workdir))
    return run_case(args.case, lambda workdir: run_alertmanager(flowguard, workdir))


if __name__ == "__main__":
    sys.exit(main())
