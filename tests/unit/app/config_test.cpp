#include "config.hpp"

#include <flowguard/exporters/event_archive.hpp>

#include <doctest/doctest.h>

using namespace flowguard;

namespace {

// The key a configuration error names, or "no error".
std::string error_key(const char* yaml) {
    try {
        parse_config(yaml);
    } catch (const ConfigError& e) {
        return e.key();
    }
    return "no error";
}

}  // namespace

TEST_CASE("an empty document is the default configuration") {
    const auto c = parse_config("");
    REQUIRE(c.collector.listen.size() == 3);
    CHECK(c.collector.listen[0].port == 2055);
    CHECK(c.collector.listen[1].port == 4739);
    CHECK(c.collector.listen[2].port == 6343);
    CHECK(c.collector.recv_batch == 256);
    CHECK(c.collector.receive_coalesce_ns == 10'000'000);
    CHECK(c.metrics.listen == "127.0.0.1:9465");
    CHECK(c.alerts.path == "-");
    CHECK(c.output.path == "-");
    CHECK(c.output.format == "json");
}

TEST_CASE("settings are read and printed back as the effective configuration") {
    const auto c = parse_config(R"(
collector:
  listen: [udp://127.0.0.1:9995, "[::1]:9996"]
  socket_receive_buffer: 4MiB
  receive_coalesce: 500us
  pending_data: {max_age: 2m, max_bytes: 64KiB}
  exporters:
    - {address: 192.0.2.7, sampling_rate: 512}
output: {path: /tmp/x.jsonl, format: csv}
log: {level: debug}
)");
    REQUIRE(c.collector.listen.size() == 2);
    CHECK(c.collector.listen[1].address == "::1");
    CHECK(c.collector.listen[1].port == 9996);
    CHECK(c.collector.socket_receive_buffer == 4u << 20);
    CHECK(c.collector.receive_coalesce_ns == 500'000);
    CHECK(c.collector.pending.max_age_ns == 120'000'000'000ull);
    CHECK(c.collector.pending.max_bytes == 65536);
    REQUIRE(c.collector.exporters.size() == 1);
    CHECK(c.collector.exporters[0].sampling_rate == 512);
    const auto again = parse_config(to_yaml(c));
    CHECK(again.collector.listen == c.collector.listen);
    CHECK(again.collector.receive_coalesce_ns == 500'000);
    CHECK(again.collector.exporters[0].address == c.collector.exporters[0].address);
    CHECK(again.output.format == "csv");
}

TEST_CASE("errors name the key and the problem") {
    CHECK(error_key("collector: {lisen: []}") == "collector.lisen");
    CHECK(error_key("collector: {listen: [udp://0.0.0.0:99999]}") == "collector.listen[0]");
    CHECK(error_key("collector: {listen: [tcp://0.0.0.0:2055]}") == "collector.listen[0]");
    CHECK(error_key("collector: {exporters: [{address: not-an-ip}]}") == "collector.exporters[0].address");
    CHECK(error_key("collector: {pending_data: {max_age: 5 parsecs}}") == "collector.pending_data.max_age");
    CHECK(error_key("collector: {templates: {max_templates: -1}}") == "collector.templates.max_templates");
    CHECK(error_key("collector: {receive_coalesce: 60ms}") == "collector.receive_coalesce");  // above 50ms
    CHECK(error_key("collector: {receive_coalesce: 50ms}") == "no error");
    CHECK(error_key("collector: {receive_coalesce: soon}") == "collector.receive_coalesce");
    CHECK(error_key("output: {format: xml}") == "output.format");
    CHECK(error_key("log: {level: loud}") == "log.level");
    CHECK(error_key("bogus: 1") == "bogus");
    CHECK_THROWS_AS(parse_config("collector: [unclosed"), ConfigError);
    // Found by fuzzing: keys that are lists or mappings escaped as yaml-cpp's own exception (a crash).
    CHECK(error_key("{[a]: 1}") == "(top level)");
    CHECK(error_key("collector: {? [x, y] : 1}") == "collector");
    CHECK_THROWS_AS(parse_config("alerts: {webhooks: [{name: a, url: 'http://x/', headers: {[h]: v}}]}"), ConfigError);
    // Found by fuzzing: values check-config could not print back as read, and a metrics listener run refused.
    CHECK(error_key("metrics:\n  listen: ;o://tk(c90nu93fo\r\n") == "metrics.listen");
    CHECK(error_key("metrics: {listen: 'localhost:9465'}") == "metrics.listen");
    CHECK(error_key("metrics: {listen: '127.0.0.1:9465'}") == "no error");
    CHECK(error_key("metrics: {listen: ''}") == "no error");
    CHECK(error_key("output: {path: \"/tmp/flows\\r\"}") == "output.path");
    CHECK(error_key("privileges: {user: \"nobody\\u0000\"}") == "privileges.user");
    CHECK(error_key("privileges: {user: nobody}") == "no error");
    CHECK(error_key("privileges: {uid: 1}") == "privileges.uid");
    CHECK_THROWS_WITH_AS(load_config_file("/nonexistent/flowguard.yaml"), doctest::Contains("cannot read config file"),
                         ConfigError);
}

TEST_CASE("meter and analyzer sections: values, defaults and errors that name the key") {
    const auto config = flowguard::parse_config(
        "meter:\n  idle_timeout: 30s\n  max_flows: 1000\n  dns: false\n"
        "analyzer:\n  beacon:\n    threshold: 0.9\n    allow_ports: [123, 8443]\n  dga:\n    min_unique_names: 20\n"
        "  resolvers: [10.0.0.53]\n");
    CHECK(config.meter.idle_timeout_ns == 30'000'000'000ull);
    CHECK(config.meter.max_flows == 1000);
    CHECK_FALSE(config.meter.dns);
    CHECK(config.analyzer.beacon.threshold == doctest::Approx(0.9));
    CHECK(config.analyzer.beacon.allow_ports == std::vector<std::uint16_t>{123, 8443});
    CHECK(config.analyzer.beacon.min_connections == 10);  // default kept
    CHECK(config.analyzer.dga.min_unique_names == 20);
    CHECK(config.analyzer.resolvers == std::vector<std::string>{"10.0.0.53"});
    CHECK_THROWS_WITH_AS(flowguard::parse_config("analyzer:\n  beacon:\n    threshold: 2\n"),
                         doctest::Contains("analyzer.beacon.threshold"), flowguard::ConfigError);
    const auto connections = flowguard::parse_config(
        "analyzer: {beacon: {connection_timeout: 5m, max_connections: 5000, long_connection: 0}}");
    CHECK(connections.analyzer.beacon.connection_timeout_ns == 300'000'000'000ull);
    CHECK(connections.analyzer.beacon.max_connections == 5000);
    CHECK(connections.analyzer.beacon.long_connection_ns == 0);
    CHECK(config.analyzer.beacon.long_connection_ns == 4 * 3600'000'000'000ull);  // default kept
    CHECK_THROWS_WITH_AS(flowguard::parse_config("analyzer: {beacon: {connection_timeout: 0s}}"),
                         doctest::Contains("analyzer.beacon.connection_timeout"), flowguard::ConfigError);
    CHECK_THROWS_WITH_AS(flowguard::parse_config("analyzer: {beacon: {max_connections: 3}}"),
                         doctest::Contains("analyzer.beacon.max_connections"), flowguard::ConfigError);
    CHECK_THROWS_WITH_AS(flowguard::parse_config("analyzer: {beacon: {long_connection: 40d}}"),
                         doctest::Contains("analyzer.beacon.long_connection"), flowguard::ConfigError);
    CHECK(config.analyzer.beacon.hold_ns == 3600'000'000'000ull);
    CHECK(flowguard::parse_config("analyzer: {beacon: {hold: 0}}").analyzer.beacon.hold_ns == 0);
    CHECK(flowguard::parse_config("analyzer: {beacon: {hold: 20m}}").analyzer.beacon.hold_ns == 1200'000'000'000ull);
    CHECK_THROWS_WITH_AS(flowguard::parse_config("analyzer: {beacon: {hold: 2d}}"),
                         doctest::Contains("analyzer.beacon.hold"), flowguard::ConfigError);
    CHECK_THROWS_WITH_AS(flowguard::parse_config("analyzer:\n  resolvers: [nope]\n"),
                         doctest::Contains("analyzer.resolvers[0]"), flowguard::ConfigError);
    const auto bounds = flowguard::parse_config("analyzer: {max_domains: 5000, max_resolved: 70000, name_ttl_cap: 2h}");
    CHECK(bounds.analyzer.max_domains == 5000);
    CHECK(bounds.analyzer.max_resolved == 70000);
    CHECK(bounds.analyzer.name_ttl_cap_ns == 7200'000'000'000ull);
    CHECK_THROWS_WITH_AS(flowguard::parse_config("analyzer: {max_domains: 3}"),
                         doctest::Contains("analyzer.max_domains"), flowguard::ConfigError);
    CHECK_THROWS_WITH_AS(flowguard::parse_config("analyzer: {name_ttl_cap: 5s}"),
                         doctest::Contains("analyzer.name_ttl_cap"), flowguard::ConfigError);
    CHECK_THROWS_WITH_AS(flowguard::parse_config("meter:\n  idle_timeout: 0s\n"),
                         doctest::Contains("meter.idle_timeout"), flowguard::ConfigError);
    CHECK_THROWS_WITH_AS(flowguard::parse_config("meter:\n  dns: maybe\n"), doctest::Contains("meter.dns"),
                         flowguard::ConfigError);
    const auto exporting = flowguard::parse_config("meter:\n  export: udp://127.0.0.1:4739\n  export_domain: 7\n");
    CHECK(exporting.meter.export_to == "udp://127.0.0.1:4739");
    CHECK(exporting.meter.export_domain == 7);
    CHECK_THROWS_WITH_AS(flowguard::parse_config("meter:\n  export: tcp://127.0.0.1:4739\n"),
                         doctest::Contains("meter.export"), flowguard::ConfigError);
}

TEST_CASE("metrics section: caps, applications, and errors that name the key") {
    const auto c = parse_config(
        "metrics: {listen: '0.0.0.0:9500', top_k: 5, top_window: 30s, "
        "applications: {backup: [9102, 9103]}}");
    CHECK(c.metrics.listen == "0.0.0.0:9500");
    CHECK(c.metrics.top_k == 5);
    CHECK(c.metrics.top_window_ns == 30'000'000'000ull);
    REQUIRE(c.metrics.applications.size() == 1);
    CHECK(c.metrics.applications[0].ports[1] == 9103);
    CHECK_THROWS_WITH_AS(parse_config("metrics: {top_k: 0}"), "metrics.top_k: must be at least 1", ConfigError);
    CHECK_THROWS_WITH_AS(parse_config("metrics: {username: a}"),
                         "metrics.username: basic auth needs both username and password", ConfigError);
    CHECK_THROWS_WITH_AS(parse_config("metrics: {listen: nowhere}"), "metrics.listen: 'nowhere' has no :PORT",
                         ConfigError);
    CHECK_THROWS_AS(parse_config("log: {format: xml}"), ConfigError);
    // The effective configuration round-trips.
    CHECK(to_yaml(parse_config(to_yaml(c))) == to_yaml(c));
}

TEST_CASE("alert webhooks: every kind, their checks, and secrets hidden in the effective configuration") {
    const auto c = parse_config(R"(alerts:
  spool_dir: /tmp/fg-spool
  max_spooled: 50
  retry_max: 1m
  webhooks:
    - {name: tickets, url: "https://tickets.example/hook", secret: abc, headers: {Authorization: Bearer xyz},
       min_severity: high, timeout: 3s, tls_verify: false}
    - {name: pager, kind: pagerduty, url: "https://events.pagerduty.com/v2/enqueue", routing_key: K}
    - {name: am, kind: alertmanager, url: "http://127.0.0.1:9093"}
)");
    REQUIRE(c.alerts.webhooks.size() == 3);
    const auto& t = c.alerts.webhooks[0];
    CHECK(t.kind == "generic");
    CHECK(t.secret == "abc");
    CHECK(t.min_severity == "high");
    CHECK(t.timeout_ns == 3'000'000'000ull);
    CHECK_FALSE(t.tls_verify);
    REQUIRE(t.headers.size() == 1);
    CHECK(t.headers[0].first == "Authorization");
    CHECK(c.alerts.max_spooled == 50);
    CHECK(c.alerts.retry_max_ns == 60'000'000'000ull);
    const auto printed = to_yaml(c);
    CHECK(printed.find("abc") == std::string::npos);
    CHECK(printed.find("xyz") == std::string::npos);
    CHECK(printed.find("tickets.example") != std::string::npos);
    CHECK(parse_config(printed).alerts.webhooks.size() == 3);  // the printed configuration reads back
    CHECK(error_key("alerts: {webhooks: [{url: 'http://x/'}]}") == "alerts.webhooks[0].name");
    CHECK(error_key("alerts: {webhooks: [{name: 'a b', url: 'http://x/'}]}") == "alerts.webhooks[0].name");
    CHECK(error_key("alerts: {webhooks: [{name: a, url: 'ftp://x/'}]}") == "alerts.webhooks[0].url");
    CHECK(error_key("alerts: {webhooks: [{name: a, kind: teams, url: 'http://x/'}]}") == "alerts.webhooks[0].kind");
    CHECK(error_key("alerts: {webhooks: [{name: a, kind: pagerduty, url: 'http://x/'}]}") ==
          "alerts.webhooks[0].routing_key");
    CHECK(error_key("alerts: {webhooks: [{name: a, url: 'http://x/', min_severity: urgent}]}") ==
          "alerts.webhooks[0].min_severity");
    CHECK(error_key("alerts: {webhooks: [{name: a, url: 'http://x/'}, {name: a, url: 'http://y/'}]}") ==
          "alerts.webhooks[1].name");
    CHECK(error_key("alerts: {webhooks: [{name: a, url: 'http://x/', headers: {X-A: \"1\\r\\nX-B: 2\"}}]}") ==
          "alerts.webhooks[0].headers.X-A");
    CHECK(error_key("alerts: {max_spooled: 0}") == "alerts.max_spooled");
    CHECK(error_key("metrics: {tls_cert_file: /etc/c.pem}") == "metrics.tls_cert_file");  // needs the key too
}

TEST_CASE("alert lifecycle and rendering: state file, quiet period, cap, sensor, formats") {
    const auto c = parse_config(R"(alerts:
  format: ecs
  state_file: /var/lib/flowguard/findings.json
  resolve_after: 3d
  max_open: 500
  sensor: hq-1
  webhooks:
    - {name: siem, url: "https://siem.example/in", format: ecs}
)");
    CHECK(c.alerts.format == "ecs");
    CHECK(c.alerts.state_file == "/var/lib/flowguard/findings.json");
    CHECK(c.alerts.resolve_after_ns == 3 * 86'400'000'000'000ull);
    CHECK(c.alerts.max_open == 500);
    CHECK(c.alerts.sensor == "hq-1");
    CHECK(c.alerts.webhooks.at(0).format == "ecs");
    CHECK(parse_config(to_yaml(c)).alerts.resolve_after_ns == c.alerts.resolve_after_ns);
    CHECK(parse_config("{}").alerts.state_file.empty());  // kept only when configured
    CHECK(error_key("alerts: {format: cef}") == "alerts.format");
    CHECK(error_key("alerts: {resolve_after: 500ms}") == "alerts.resolve_after");
    CHECK(error_key("alerts: {resolve_after: soon}") == "alerts.resolve_after");
    CHECK(error_key("alerts: {max_open: 0}") == "alerts.max_open");
    CHECK(error_key("alerts: {webhooks: [{name: a, url: 'http://x/', format: xml}]}") == "alerts.webhooks[0].format");
    CHECK(error_key("alerts: {webhooks: [{name: a, kind: slack, url: 'http://x/', format: ecs}]}") ==
          "alerts.webhooks[0].format");
}

TEST_CASE("a key given twice is an error naming it, at any depth (yaml-cpp would keep the first)") {
    CHECK(error_key("collector:\n  max_datagram: 9000\ncollector:\n  max_datagram: 1500\n") == "collector");
    CHECK(error_key("analyzer:\n  beacon:\n    threshold: 0.5\n    threshold: 0.9\n") == "analyzer.beacon.threshold");
    CHECK(error_key("alerts:\n  webhooks:\n    - {name: a, kind: generic, url: 'http://127.0.0.1:1/x', name: b}\n") ==
          "alerts.webhooks[0].name");
    CHECK(error_key("analyzer:\n  beacon:\n    threshold: 0.5\n  dga:\n    threshold: 0.5\n") == "no error");
}

TEST_CASE("a configuration file must be a readable file of bounded size; the reason is given") {
    CHECK_THROWS_WITH_AS(load_config_file("/tmp"), doctest::Contains("is a directory"), ConfigError);
    CHECK_THROWS_WITH_AS(load_config_file("/dev/zero"), doctest::Contains("larger than"), ConfigError);
    CHECK_THROWS_WITH_AS(load_config_file("/nonexistent/flowguard.yaml"),
                         doctest::Contains("No such file or directory"), ConfigError);
    CHECK_NOTHROW(load_config_file("/dev/null"));  // the documented way to see the defaults
}

TEST_CASE("clickhouse section: settings, retention, the password hidden, and errors that name the key") {
    const auto c = parse_config(R"(clickhouse:
  url: https://ch.example.net:8443
  database: netflows
  username: flowguard
  password: s3cret
  cluster: flows_cluster
  batch_flows: 20000
  batch_interval: 2s
  max_buffered_flows: 100000
  spool_dir: /var/lib/flowguard/clickhouse
  max_spool_size: 2GiB
  retention: {flows: 7d, flows_1h: 0s}
)");
    CHECK(c.clickhouse.url == "https://ch.example.net:8443");
    CHECK(c.clickhouse.database == "netflows");
    CHECK(c.clickhouse.cluster == "flows_cluster");
    CHECK(c.clickhouse.batch_flows == 20000);
    CHECK(c.clickhouse.batch_interval_ns == 2'000'000'000ull);
    CHECK(c.clickhouse.max_spool_bytes == 2ull << 30);
    CHECK(c.clickhouse.retention.flows_ns == 7ull * 86400 * 1'000'000'000);
    CHECK(c.clickhouse.retention.flows_1h_ns == 0);
    CHECK(c.clickhouse.retention.flows_5m_ns == 90ull * 86400 * 1'000'000'000);  // default
    const auto printed = to_yaml(c);
    CHECK(printed.find("s3cret") == std::string::npos);
    CHECK(to_yaml(parse_config(to_yaml(parse_config("clickhouse: {url: 'http://127.0.0.1:8123'}")))) ==
          to_yaml(parse_config("clickhouse: {url: 'http://127.0.0.1:8123'}")));
    CHECK_THROWS_WITH_AS(parse_config("clickhouse: {url: 'tcp://x:9000'}"), doctest::Contains("clickhouse.url"),
                         ConfigError);
    CHECK_THROWS_WITH_AS(parse_config("clickhouse: {database: 'flows; DROP'}"),
                         doctest::Contains("clickhouse.database: 'flows; DROP' must be"), ConfigError);
    CHECK_THROWS_WITH_AS(parse_config("clickhouse: {max_buffered_flows: 1000}"),
                         doctest::Contains("clickhouse.max_buffered_flows"), ConfigError);
    CHECK_THROWS_WITH_AS(parse_config("clickhouse: {batch_interval: 10ms}"),
                         doctest::Contains("clickhouse.batch_interval"), ConfigError);
    CHECK_THROWS_WITH_AS(parse_config("clickhouse: {retention: {flows_2m: 1d}}"),
                         doctest::Contains("clickhouse.retention"), ConfigError);
    // check-config refuses a CA bundle run could not read.
    CHECK_THROWS_WITH_AS(
        check_config_files(parse_config("clickhouse: {url: 'https://x:8443', ca_file: /nonexistent/ca.pem}")),
        doctest::Contains("clickhouse.ca_file: cannot read '/nonexistent/ca.pem'"), ConfigError);
}

TEST_CASE("archive section: DNS events and alerts beside the flows, in a directory of their own") {
    auto c = parse_config("archive: {path: /srv/flows}");
    CHECK(c.archive.events);
    CHECK(exporters::archive_events_path(c.archive) == "/srv/flows.events");
    c = parse_config("archive: {path: /srv/flows, events: false, events_path: /srv/dns, max_queued_events: 4096}");
    CHECK_FALSE(c.archive.events);
    CHECK(exporters::archive_events_path(c.archive) == "/srv/dns");
    CHECK(c.archive.max_queued_events == 4096);
    CHECK(to_yaml(parse_config(to_yaml(c))) == to_yaml(c));
    // nfdump -R stops at the first file that is not an nfcapd file: never the flows' directory.
    CHECK_THROWS_WITH_AS(parse_config("archive: {path: /srv/flows, events_path: /srv/flows/}"),
                         doctest::Contains("archive.events_path"), ConfigError);
    CHECK_THROWS_WITH_AS(parse_config("archive: {max_queued_events: 10}"),
                         doctest::Contains("archive.max_queued_events"), ConfigError);
    CHECK_THROWS_WITH_AS(parse_config("archive: {events: sometimes}"), doctest::Contains("archive.events"),
                         ConfigError);
}
