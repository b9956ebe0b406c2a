#!/usr/bin/python3
"""The ClickHouse sink against a real ClickHouse server (Debian 12's clickhouse-server 18.16), started here on
127.0.0.1 with a throw-away data directory.

rows: 20,000 varied IPFIX records (query_flows.py) through `collect --clickhouse --archive`: the flows table holds
  each record sent exactly once, every field equal; the roll-ups (flows_1m, flows_5m, flows_1h) keep the same
  totals; top-N statistics computed in ClickHouse (from flows, and from flows_1h for addresses) equal
  `flowguard query -s` on the archive the same run wrote.
outage: the server is down when collect starts; records wait in memory, then in the spool (clickhouse.spool_dir);
  when the server comes up every record arrives once. Stopped while the server is down, collect keeps the
  batches in the spool (not counted as dropped) and a later start inserts them. Without a spool and with a small
  buffer, what does not fit is dropped, counted, logged, and the exit code says so.
retention: day partitions older than clickhouse.retention are dropped at start (counted), newer ones kept.
cluster: with clickhouse.cluster, the tables are <name>_local and <name> is a Distributed table over them
  (a one-shard cluster of this server), created from what `flowguard clickhouse-schema` prints (the collector
  with create_schema: false): inserts through it reach the local tables and the roll-ups.
dashboard: every panel query of the flow drill-down dashboard, with the Altinity plugin's macros expanded as
  it expands them, runs on the server and returns rows for a host of the data; panel ids are unique and the
  panels lie inside the 24-column grid without overlapping.
"""
import argparse
import collections
import ipaddress
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import query_flows  # noqa: E402
from harness import check, free_tcp_port, free_udp_port, run_case, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DASHBOARD = os.path.join(HERE, "..", "..", "deploy", "grafana", "dashboards", "flow-drilldown.json")
STARTED = []
PROTO_NAMES = {6: "TCP", 17: "UDP", 1: "ICMP", 58: "ICMPv6"}

SERVER_CONFIG = """<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{dir}/server.log</log><errorlog>{dir}/server.err.log</errorlog></logger>
  <http_port>{http}</http_port>
  <tcp_port>{tcp}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{dir}/data/</path>
  <tmp_path>{dir}/data/tmp/</tmp_path>
  <user_files_path>{dir}/data/user_files/</user_files_path>
  <format_schema_path>{dir}/data/format_schemas/</format_schema_path>
  <users_config>/etc/clickhouse-server/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <remote_servers>
    <flowguard_test><shard><replica><host>127.0.0.1</host><port>{tcp}</port></replica></shard></flowguard_test>
  </remote_servers>
</yandex>
"""


class ClickHouse:
    def __init__(self, workdir, http_port=None):
        self.dir = os.path.join(workdir, "clickhouse")
        os.makedirs(self.dir, exist_ok=True)
        self.http = http_port or free_tcp_port()
        self.tcp = free_tcp_port()
        self.config = os.path.join(self.dir, "config.xml")
        with open(self.config, "w") as f:
            f.write(SERVER_CONFIG.format(dir=self.dir, http=self.http, tcp=self.tcp))
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.http}"

    def start(self):
        self.proc = subprocess.Popen(["clickhouse-server", f"--config-file={self.config}"],
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "stderr"), "w"))
        STARTED.append(self.proc)
        wait_for(self.ping, 30, "clickhouse-server to answer /ping")
        return self

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)

    def ping(self):
        try:
            return urllib.request.urlopen(self.url + "/ping", timeout=1).read() == b"Ok.\n"
        except OSError:
            return False

    def query(self, sql):
        request = urllib.request.Request(self.url + "/", data=sql.encode())
        try:
            return urllib.request.urlopen(request, timeout=60).read().decode()
        except urllib.error.HTTPError as e:
            raise AssertionError(f"ClickHouse refused {sql[:300]!r}: {e.read().decode()[:500]}")

    def rows(self, sql):
        return [line.split("\t") for line in self.query(sql + " FORMAT TabSeparated").splitlines()]

    def count(self, table):
        return int(self.query(f"SELECT count() FROM {table}").strip())

    def count_or_zero(self, table):
        """While the sink may still be creating the schema: 0 until the table exists."""
        try:
            return self.count(table) if self.ping() else 0
        except AssertionError:
            return 0


def write_config(workdir, clickhouse_url, **settings):
    lines = ["output: {format: none}", "clickhouse:", f"  url: {clickhouse_url}", "  batch_interval: 500ms"]
    for key, value in settings.items():
        if isinstance(value, dict):
            lines.append(f"  {key}:")
            lines += [f"    {k}: {v}" for k, v in value.items()]
        else:
            lines.append(f"  {key}: {value}")
    path = os.path.join(workdir, "flowguard.yml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def start_collect(flowguard, workdir, config, *args, name="collect"):
    port = free_udp_port()
    err = os.path.join(workdir, f"{name}.stderr")
    proc = subprocess.Popen([flowguard, "--log-level", "info", "--config", config, "collect", "--listen",
                             f"udp://127.0.0.1:{port}", *args], stdout=subprocess.DEVNULL, stderr=open(err, "w"))
    STARTED.append(proc)
    wait_for(lambda: "listening on" in open(err).read(), 20, "collect to listen")
    return proc, port, err


def stop_collect(proc, err, expect_rc=0):
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=90)
    check(rc == expect_rc, f"collect exit code {rc}, expected {expect_rc} ({open(err).read()[-600:]})")
    return json.loads(open(err).read().strip().splitlines()[-1])


def address_text(column):
    return f"replaceRegexpOne(IPv6NumToString({column}), '^::ffff:', '')"


def reference_row(f, exporter="127.0.0.1"):
    duration = f["end_ms"] - f["start_ms"]
    return (f["src"], f["dst"], f["sport"], f["dport"], f["proto"], f["packets"], f["bytes"], f["in_if"],
            f["out_if"], f["tos"], f["flags"], f["src_as"], f["dst_as"], f["start_ms"] // 1000, duration,
            f["domain"], exporter, "IPFIX")


def stored_rows(server, database):
    rows = server.rows(
        f"SELECT {address_text('SrcAddr')}, {address_text('DstAddr')}, SrcPort, DstPort, Proto, Packets, Bytes, "
        f"InIf, OutIf, IpTos, TcpFlags, SrcAS, DstAS, toUInt32(TimeFlowStart), DurationMs, ObservationDomainId, "
        f"{address_text('ExporterAddress')}, Type FROM {database}.flows")
    out = collections.Counter()
    for r in rows:
        out[(str(ipaddress.ip_address(r[0])), str(ipaddress.ip_address(r[1])), *map(int, r[2:16]), r[16], r[17])] += 1
    return out


def normalised(flows):
    return collections.Counter(reference_row({**f, "src": str(ipaddress.ip_address(f["src"])),
                                              "dst": str(ipaddress.ip_address(f["dst"]))}) for f in flows)


def query_stat(flowguard, archive, stat, top):
    out = subprocess.run([flowguard, "query", "--archive", archive, "--format", "json", "-s", stat, "-n", str(top)],
                         capture_output=True, text=True)
    check(out.returncode == 0, f"query -s {stat}: exit {out.returncode} ({out.stderr[-300:]})")
    return [(str(r["key"]), r["flows"], r["packets"], r["bytes"]) for r in map(json.loads, out.stdout.splitlines())]


def clickhouse_stat(server, table, key_sql, order, top, flows_sql="count()"):
    rows = server.rows(f"SELECT {key_sql} AS k, {flows_sql} AS flows, sum(Packets) AS packets, sum(Bytes) AS bytes "
                       f"FROM {table} GROUP BY k ORDER BY {order} DESC, k LIMIT {top}")
    return [(k, int(fl), int(p), int(b)) for k, fl, p, b in rows]


def same_top(ours, theirs, index, what):
    """The same order values, and the same rows above the last one (ties at the boundary may pick other keys)."""
    check([r[index] for r in ours] == [r[index] for r in theirs],
          f"{what}: top values {[r[index] for r in theirs]} vs query's {[r[index] for r in ours]}")
    boundary = ours[-1][index] if ours else 0
    above = lambda rows: {r for r in rows if r[index] > boundary}  # noqa: E731
    check(above(ours) == above(theirs), f"{what}: rows {sorted(above(theirs))[:3]} vs {sorted(above(ours))[:3]}")


def run_rows(flowguard, workdir):
    server = ClickHouse(workdir).start()
    archive = os.path.join(workdir, "archive")
    config = write_config(workdir, server.url, database="flows_rows")
    proc, port, err = start_collect(flowguard, workdir, config, "--archive", archive)
    now = int(time.time())
    flows = query_flows.make_flows(31, 20000, now - 1800, 1800)
    query_flows.send(port, flows, now)
    time.sleep(1.5)
    summary = stop_collect(proc, err)
    c = summary["clickhouse"]
    check(c["flows_inserted"] == len(flows) and c["flows_dropped"] == 0 and c["flows_buffered"] == 0,
          f"every record inserted: {c}")
    check(server.count("flows_rows.flows") == len(flows), "the flows table has one row per record")
    stored = stored_rows(server, "flows_rows")
    expected = normalised(flows)
    check(stored == expected, f"rows equal the records sent (missing {list((expected - stored).items())[:3]}, "
          f"extra {list((stored - expected).items())[:3]})")
    totals = server.rows("SELECT count(), sum(Packets), sum(Bytes) FROM flows_rows.flows")[0]
    for rollup in ("flows_1m", "flows_5m", "flows_1h"):
        r = server.rows(f"SELECT sum(Flows), sum(Packets), sum(Bytes) FROM flows_rows.{rollup}")[0]
        check(r == totals, f"{rollup} keeps the totals ({r} vs {totals})")
    # Top-N in ClickHouse and by `flowguard query -s` on the archive of the same records.
    stats = [
        ("srcip/bytes", "flows_rows.flows", address_text("SrcAddr"), "bytes", 3, "count()"),
        ("dstip/flows", "flows_rows.flows", address_text("DstAddr"), "flows", 1, "count()"),
        ("dstport/packets", "flows_rows.flows", "toString(DstPort)", "packets", 2, "count()"),
        ("srcip/bytes", "flows_rows.flows_1h", address_text("SrcAddr"), "bytes", 3, "sum(Flows)"),
        ("dstip/packets", "flows_rows.flows_5m", address_text("DstAddr"), "packets", 2, "sum(Flows)"),
    ]
    for stat, table, key_sql, order, index, flows_sql in stats:
        ours = query_stat(flowguard, archive, stat, 10)
        theirs = clickhouse_stat(server, table, key_sql, order, 10, flows_sql)
        check(len(ours) == 10, f"query -s {stat} gave 10 rows")
        same_top(ours, theirs, index, f"-s {stat} vs ClickHouse {table}")
    # The proto statistic: query prints names, ClickHouse numbers.
    ours = {k: v for k, *v in query_stat(flowguard, archive, "proto/flows", 0)}
    theirs = {PROTO_NAMES[int(k)]: v for k, *v in clickhouse_stat(server, "flows_rows.flows", "Proto", "flows", 10)}
    check(ours == theirs, f"-s proto: {ours} vs {theirs}")
    server.stop()
    print(f"rows: {len(flows)} records, every field equal; roll-up totals equal; {len(stats) + 1} top-N equal query -s")


def run_outage(flowguard, workdir):
    http_port = free_tcp_port()
    server = ClickHouse(workdir, http_port)
    spool = os.path.join(workdir, "spool")
    config = write_config(workdir, server.url, database="flows_outage", spool_dir=spool, batch_flows=1000,
                          max_buffered_flows=16384, retry_max="2s", timeout="2s")
    now = int(time.time())
    first = query_flows.make_flows(41, 12000, now - 600, 600)
    proc, port, err = start_collect(flowguard, workdir, config)
    query_flows.send(port, first, now)
    wait_for(lambda: len([f for f in os.listdir(spool) if f.endswith(".rowbinary")]) > 0, 20,
             "batches beyond half the memory buffer to reach the spool")
    check("insert failed" in open(err).read() or "creating the schema failed" in open(err).read(),
          "the failed requests are logged")
    server.start()
    wait_for(lambda: server.count_or_zero("flows_outage.flows") >= len(first), 60, "the backlog to reach ClickHouse")
    summary = stop_collect(proc, err)
    check(server.count("flows_outage.flows") == len(first), "every record inserted once after the outage")
    check(summary["clickhouse"]["flows_dropped"] == 0 and summary["clickhouse"]["request_errors"] > 0,
          f"nothing dropped, failures counted: {summary['clickhouse']}")
    check("requests succeed again" in open(err).read(), "the recovery is logged")

    # Stopped while the server is down: the batches stay in the spool, and the next start inserts them.
    server.stop()
    second = query_flows.make_flows(42, 3000, now - 600, 600)
    proc, port, err = start_collect(flowguard, workdir, config, name="collect2")
    query_flows.send(port, second, now)
    time.sleep(1.5)
    summary = stop_collect(proc, err)
    c = summary["clickhouse"]
    check(c["flows_dropped"] == 0 and c["flows_spooled"] == len(second),
          f"at stop the records wait in the spool: {c}")
    server.start()
    proc, port, err = start_collect(flowguard, workdir, config, name="collect3")
    wait_for(lambda: server.count_or_zero("flows_outage.flows") >= len(first) + len(second), 30,
             "the spool of the earlier run to be inserted")
    summary = stop_collect(proc, err)
    check(summary["clickhouse"]["flows_inserted"] == len(second) and summary["clickhouse"]["flows_spooled"] == 0,
          f"the next start inserted the spool: {summary['clickhouse']}")
    check(stored_rows(server, "flows_outage") == normalised(first + second), "the rows are the records, once each")
    server.stop()

    # No spool, a small buffer, the server down: dropped, counted, logged, exit code 1.
    config = write_config(workdir, f"http://127.0.0.1:{free_tcp_port()}", database="flows_outage", batch_flows=1000,
                          max_buffered_flows=16384, retry_max="2s", stop_grace="1s")
    third = query_flows.make_flows(43, 20000, now - 600, 600)
    proc, port, err = start_collect(flowguard, workdir, config, name="collect4")
    query_flows.send(port, third, now)
    time.sleep(1.5)
    summary = stop_collect(proc, err, expect_rc=1)  # memory's batches get the stop's grace (1 s), then go
    c = summary["clickhouse"]
    check(c["flows_dropped"] == len(third) and c["flows_inserted"] == 0, f"every record counted as dropped: {c}")
    log = open(err).read()
    check("the buffer is full" in log and "not inserted at stop" in log, "the drops are logged")
    print(f"outage: {len(first)} records through memory and spool after the server came up; {len(second)} kept "
          f"in the spool across a restart; {len(third)} dropped and counted without a spool")


def run_retention(flowguard, workdir):
    server = ClickHouse(workdir).start()
    config = write_config(workdir, server.url, database="flows_retention",
                          retention={"flows": "30d", "flows_1h": "400d"})
    proc, port, err = start_collect(flowguard, workdir, config)
    wait_for(lambda: "schema ready" in open(err).read(), 20, "the schema")
    stop_collect(proc, err)
    day = 86400
    now = int(time.time())
    for age_days in (45, 31, 2):
        server.query(f"INSERT INTO flows_retention.flows (TimeReceived, Bytes, Packets) VALUES "
                     f"(toDateTime({now - age_days * day}), 100, 1)")
    partitions = lambda table: [p for (p,) in server.rows(  # noqa: E731
        f"SELECT DISTINCT partition FROM system.parts WHERE active AND database = 'flows_retention' "
        f"AND table = '{table}' ORDER BY partition")]
    before = partitions("flows")
    check(len(before) == 3, f"three day partitions before: {before}")
    check(len(partitions("flows_1h")) == 3, "the roll-up has them too")
    proc, port, err = start_collect(flowguard, workdir, config, name="collect2")
    wait_for(lambda: "retention" in open(err).read(), 20, "retention to run")
    time.sleep(0.5)
    summary = stop_collect(proc, err)
    after = partitions("flows")
    check(after == before[2:], f"the days older than 30 days are dropped: {before} -> {after}")
    check(partitions("flows_1h") == before, "flows_1h keeps 400 days")
    # flows_1m (7 days) and flows_5m (90 days) by default: the 45- and 31-day-old days leave flows_1m only.
    check(len(partitions("flows_1m")) == 1 and len(partitions("flows_5m")) == 3, "the default roll-up retention")
    check(summary["clickhouse"]["partitions_dropped"] == 4, f"4 partitions dropped: {summary['clickhouse']}")
    server.stop()
    print("retention: partitions past each table's age dropped, newer kept, counted")


def run_cluster(flowguard, workdir):
    server = ClickHouse(workdir).start()
    # A DBA's way: the schema `flowguard clickhouse-schema` prints, applied by hand; the collector creates nothing.
    config = write_config(workdir, server.url, database="flows_cluster", cluster="flowguard_test",
                          create_schema="false")
    schema = subprocess.run([flowguard, "--config", config, "clickhouse-schema"], capture_output=True, text=True,
                            check=True).stdout
    statements = [s for s in schema.split(";\n\n") if s.strip()]
    check(len(statements) == 12, f"clickhouse-schema prints 12 statements for a cluster ({len(statements)})")
    for statement in statements:
        server.query(statement)
    proc, port, err = start_collect(flowguard, workdir, config)
    now = int(time.time())
    flows = query_flows.make_flows(51, 3000, now - 600, 600)
    query_flows.send(port, flows, now)
    time.sleep(1.5)
    summary = stop_collect(proc, err)
    check(summary["clickhouse"]["flows_inserted"] == len(flows), f"inserted: {summary['clickhouse']}")
    engines = dict(server.rows("SELECT name, engine FROM system.tables WHERE database = 'flows_cluster'"))
    check(engines.get("flows") == "Distributed" and engines.get("flows_local") == "MergeTree" and
          engines.get("flows_1h") == "Distributed" and engines.get("flows_1h_local") == "SummingMergeTree",
          f"local tables and Distributed tables over them: {engines}")
    # Distributed inserts reach the shards in the background.
    wait_for(lambda: server.count_or_zero("flows_cluster.flows_local") == len(flows), 30,
             "the shard to receive the rows")
    check(stored_rows(server, "flows_cluster") == normalised(flows), "the Distributed table reads the rows back")
    total = server.rows("SELECT sum(Flows) FROM flows_cluster.flows_1h")[0][0]
    check(int(total) == len(flows), f"the roll-ups on the shard count them ({total})")
    server.stop()
    print("cluster: *_local tables with Distributed tables over them; rows and roll-ups through the cluster")


def expand_macros(target, start, end, interval_s, variables):
    """The Altinity plugin's macros, as it expands them for a DateTime column without a date column."""
    query = target["query"]
    column = target["dateTimeColDataType"]
    query = query.replace("$timeSeries", f"(intDiv(toUInt32({column}), {interval_s}) * {interval_s}) * 1000")
    query = query.replace("$timeFilter", f"{column} >= toDateTime({start}) AND {column} <= toDateTime({end})")
    query = query.replace("$table", f"{target['database']}.{target['table']}")
    query = query.replace("$interval", str(interval_s))
    for name, value in variables.items():
        query = query.replace(f"${name}", value)
    check("$" not in query, f"a macro left unexpanded: {query[:200]}")
    return query


def run_dashboard(flowguard, workdir):
    server = ClickHouse(workdir).start()
    config = write_config(workdir, server.url, database="flowguard")
    proc, port, err = start_collect(flowguard, workdir, config)
    now = int(time.time())
    flows = query_flows.make_flows(61, 5000, now - 3600, 3600)
    query_flows.send(port, flows, now)
    time.sleep(1.5)
    stop_collect(proc, err)
    busiest = collections.Counter(f["src"] for f in flows).most_common(1)[0][0]
    peer = next(f["dst"] for f in flows if f["src"] == busiest)
    dashboard = json.load(open(DASHBOARD))
    check(dashboard["uid"] == "flowguard-flow-drilldown", "the drill-down dashboard's uid")
    datasource = open(os.path.join(os.path.dirname(DASHBOARD), "..", "provisioning", "datasources",
                                   "clickhouse.yml")).read()
    ds_uid = re.search(r"uid:\s*(\S+)", datasource).group(1)
    names = {v["name"] for v in dashboard["templating"]["list"]}
    check(names == {"host", "peer"}, f"the variables: {names}")
    ran, ids, cells = 0, set(), set()
    for panel in dashboard["panels"]:
        check(panel["id"] not in ids, f"panel id {panel['id']} used twice")
        ids.add(panel["id"])
        g = panel["gridPos"]
        check(g["x"] >= 0 and g["y"] >= 0 and g["w"] > 0 and g["h"] > 0 and g["x"] + g["w"] <= 24,
              f"{panel['title']!r} has an invalid gridPos {g}")
        for cell in ((x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])):
            check(cell not in cells, f"{panel['title']!r} overlaps another panel at {cell}")
            cells.add(cell)
        check(panel["datasource"]["uid"] == ds_uid, f"{panel['title']!r} uses the provisioned ClickHouse")
        for target in panel["targets"]:
            check(target["datasource"]["uid"] == ds_uid, f"a target of {panel['title']!r} uses another datasource")
            for peer_value in ("", peer):
                sql = expand_macros(target, now - 7200, now + 600, 300, {"host": busiest, "peer": peer_value})
                rows = server.rows(sql)
                check(rows, f"{panel['title']!r} returns rows for host {busiest} peer {peer_value!r}: {sql[:300]}")
                ran += 1
    server.stop()
    print(f"dashboard: {len(dashboard['panels'])} panels, {ran} queries ran on ClickHouse 18.16 and returned rows")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=["rows", "outage", "retention", "cluster", "dashboard"])
    ap.add_argument("--flowguard", required=True)
    args = ap.parse_args()
    cases = {"rows": run_rows, "outage": run_outage, "retention": run_retention, "cluster": run_cluster,
             "dashboard": run_dashboard}
    try:
        return run_case(f"clickhouse-{args.case}", lambda w: cases[args.case](args.flowguard, w))
    finally:
        for p in STARTED:
            if p.poll() is None:
                p.kill()
                p.wait()


if __name__ == "__main__":
    sys.exit(main())
