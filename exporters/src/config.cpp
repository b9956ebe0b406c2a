#include <flowguard/exporters/config.hpp>
#include <flowguard/exporters/event_archive.hpp>
#include <flowguard/exporters/flow_format.hpp>
#include <flowguard/exporters/webhook.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace flowguard {
namespace {

WebhookConfig read_webhook(const YAML::Node& item, const std::string& key) {
    yaml::require_known_keys(item, key,
                             {"name", "kind", "url", "secret", "routing_key", "headers", "min_severity", "timeout",
                              "ca_file", "tls_verify", "format"});
    WebhookConfig w;
    if (!item["name"]) throw ConfigError(key + ".name", "missing (names the metric label and the spool directory)");
    w.name = yaml::scalar(item["name"], key + ".name");
    if (w.name.empty() || w.name.size() > 64 || !std::all_of(w.name.begin(), w.name.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
        }))
        throw ConfigError(key + ".name", fmt::format("'{}' must be 1-64 letters, digits, '_' or '-'", w.name));
    if (item["kind"]) w.kind = yaml::scalar(item["kind"], key + ".kind");
    if (w.kind != "generic" && w.kind != "slack" && w.kind != "pagerduty" && w.kind != "alertmanager")
        throw ConfigError(key + ".kind",
                          fmt::format("'{}' is not one of generic, slack, pagerduty, alertmanager", w.kind));
    if (!item["url"]) throw ConfigError(key + ".url", "missing");
    w.url = yaml::scalar(item["url"], key + ".url");
    try {
        exporters::parse_webhook_url(w.url);  // the parse the dispatcher makes: check-config refuses what run would
    } catch (const std::invalid_argument& e) {
        throw ConfigError(key + ".url", e.what());
    }
    if (item["secret"]) w.secret = yaml::scalar(item["secret"], key + ".secret");
    if (item["routing_key"]) w.routing_key = yaml::scalar(item["routing_key"], key + ".routing_key");
    if (w.kind == "pagerduty" && w.routing_key.empty())
        throw ConfigError(key + ".routing_key", "required for a pagerduty webhook (the integration key)");
    if (const auto& h = item["headers"]) {
        if (!h.IsMap()) throw ConfigError(key + ".headers", "expected a map such as {Authorization: Bearer ...}");
        for (const auto& kv : h) {
            const auto name = kv.first.as<std::string>();
            const auto value = yaml::scalar(kv.second, key + ".headers." + name);
            if (name.find_first_of(":\r\n") != std::string::npos || value.find_first_of("\r\n") != std::string::npos)
                throw ConfigError(key + ".headers." + name,
                                  "header names and values cannot hold ':' (names) or line breaks");
            w.headers.emplace_back(name, value);
        }
    }
    if (item["format"]) w.format = yaml::scalar(item["format"], key + ".format");
    if (w.format != "native" && w.format != "ecs")
        throw ConfigError(key + ".format", fmt::format("'{}' is not one of native, ecs", w.format));
    if (w.format == "ecs" && w.kind != "generic")
        throw ConfigError(key + ".format", "only a generic webhook takes ecs (the others have their receiver's shape)");
    if (item["min_severity"]) w.min_severity = yaml::scalar(item["min_severity"], key + ".min_severity");
    static constexpr std::string_view severities[] = {"low", "medium", "high", "critical"};
    if (std::find(std::begin(severities), std::end(severities), w.min_severity) == std::end(severities))
        throw ConfigError(key + ".min_severity",
                          fmt::format("'{}' is not one of low, medium, high, critical", w.min_severity));
    if (item["timeout"])
        w.timeout_ns = yaml::with_key(
            key + ".timeout", [&] { return parse_duration_ns(yaml::scalar(item["timeout"], key + ".timeout")); });
    if (w.timeout_ns == 0) throw ConfigError(key + ".timeout", "must be more than 0");
    if (item["ca_file"]) w.ca_file = yaml::scalar(item["ca_file"], key + ".ca_file");
    if (item["tls_verify"]) w.tls_verify = yaml::boolean_value(item["tls_verify"], key + ".tls_verify");
    return w;
}

}  // namespace

ListenEndpoint parse_metrics_listen(std::string_view text) {
    if (text.find("://") != std::string_view::npos)  // the shared parser would talk of udp:// here
        throw ConfigError("", fmt::format("'{}' is ADDR:PORT, without a scheme", text));
    return ListenEndpoint::parse(text);
}

void read_output_config(const YAML::Node& n, OutputConfig& o) {
    yaml::require_known_keys(n, "output", {"path", "format"});
    o.configured = true;
    if (n["path"]) o.path = yaml::scalar(n["path"], "output.path");
    if (n["format"]) {
        o.format = yaml::scalar(n["format"], "output.format");
        if (!exporters::known_flow_format(o.format))  // the formats flow_format.hpp knows, by name
            throw ConfigError("output.format",
                              fmt::format("'{}' is not one of {}", o.format, exporters::flow_format_names()));
    }
}

void read_archive_config(const YAML::Node& n, ArchiveConfig& a) {
    const std::string key = "archive";
    yaml::require_known_keys(n, key,
                             {"path", "interval", "max_age", "max_size", "compression", "max_queued_flows", "events",
                              "events_path", "max_queued_events"});
    a.configured = true;
    constexpr std::uint64_t kMinute = 60ull * 1'000'000'000;
    if (n["path"]) a.path = yaml::scalar(n["path"], key + ".path");
    if (n["interval"]) {
        a.interval_ns = yaml::duration_value(n["interval"], key + ".interval");
        // Files are named by the minute their interval starts: shorter intervals would share names.
        if (a.interval_ns < kMinute || a.interval_ns > 1440 * kMinute || a.interval_ns % kMinute != 0)
            throw ConfigError(key + ".interval", "must be whole minutes from 1m to 1d (nfcapd's default: 5m)");
    }
    if (n["max_age"]) a.max_age_ns = yaml::duration_value(n["max_age"], key + ".max_age");
    if (n["max_size"]) a.max_bytes = yaml::size_value(n["max_size"], key + ".max_size");
    if (n["compression"]) a.compression = yaml::scalar(n["compression"], key + ".compression");
    if (a.compression != "lz4" && a.compression != "none")
        throw ConfigError(key + ".compression", fmt::format("'{}' is not one of lz4, none", a.compression));
    if (n["max_queued_flows"])
        a.max_queued_flows = yaml::unsigned_value(n["max_queued_flows"], key + ".max_queued_flows", 1u << 24);
    if (a.max_queued_flows < 4096) throw ConfigError(key + ".max_queued_flows", "must be at least 4096");
    if (n["events"]) a.events = yaml::boolean_value(n["events"], key + ".events");
    if (n["events_path"]) a.events_path = yaml::scalar(n["events_path"], key + ".events_path");
    if (n["max_queued_events"])
        a.max_queued_events = yaml::unsigned_value(n["max_queued_events"], key + ".max_queued_events", 1u << 20);
    if (a.max_queued_events < 256) throw ConfigError(key + ".max_queued_events", "must be at least 256");
    // nfdump -R stops at the first file that is not an nfcapd file: the events need a directory of their own.
    if (!a.events_path.empty() && !a.path.empty() && exporters::same_directory(a.events_path, a.path))
        throw ConfigError(key + ".events_path", "must not be archive.path (nfdump -R reads only nfcapd files there)");
}

namespace {

// ClickHouse identifiers are put into SQL unquoted: letters, digits and '_', not starting with a digit.
std::string identifier(const YAML::Node& node, const std::string& key, bool may_be_empty = false) {
    auto text = yaml::scalar(node, key);
    if (text.empty() && may_be_empty) return text;
    const bool ok = !text.empty() && text.size() <= 64 && !std::isdigit(static_cast<unsigned char>(text[0])) &&
                    std::all_of(text.begin(), text.end(),
                                [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
    if (!ok)
        throw ConfigError(key,
                          fmt::format("'{}' must be 1-64 letters, digits or '_', not starting with a digit", text));
    return text;
}

void read_clickhouse_retention(const YAML::Node& n, ClickHouseRetention& r) {
    const std::string key = "clickhouse.retention";
    yaml::require_known_keys(n, key, {"flows", "flows_1m", "flows_5m", "flows_1h"});
    if (n["flows"]) r.flows_ns = yaml::duration_value(n["flows"], key + ".flows");
    if (n["flows_1m"]) r.flows_1m_ns = yaml::duration_value(n["flows_1m"], key + ".flows_1m");
    if (n["flows_5m"]) r.flows_5m_ns = yaml::duration_value(n["flows_5m"], key + ".flows_5m");
    if (n["flows_1h"]) r.flows_1h_ns = yaml::duration_value(n["flows_1h"], key + ".flows_1h");
}

}  // namespace

void read_clickhouse_config(const YAML::Node& n, ClickHouseConfig& c) {
    const std::string key = "clickhouse";
    yaml::require_known_keys(n, key,
                             {"url", "database", "username", "password", "create_schema", "cluster", "batch_flows",
                              "batch_interval", "max_buffered_flows", "spool_dir", "max_spool_size", "timeout",
                              "retry_max", "stop_grace", "ca_file", "tls_verify", "retention"});
    c.configured = true;
    if (n["url"]) c.url = yaml::scalar(n["url"], key + ".url");
    if (!c.url.empty()) {
        try {
            exporters::parse_webhook_url(c.url);  // the parse the sink makes
        } catch (const std::invalid_argument& e) {
            throw ConfigError(key + ".url", e.what());
        }
    }
    if (n["database"]) c.database = identifier(n["database"], key + ".database");
    if (n["username"]) c.username = yaml::scalar(n["username"], key + ".username");
    if (n["password"]) c.password = yaml::scalar(n["password"], key + ".password");
    if (n["create_schema"]) c.create_schema = yaml::boolean_value(n["create_schema"], key + ".create_schema");
    if (n["cluster"]) c.cluster = identifier(n["cluster"], key + ".cluster", true);
    if (n["batch_flows"]) c.batch_flows = yaml::unsigned_value(n["batch_flows"], key + ".batch_flows", 1'000'000);
    if (c.batch_flows == 0) throw ConfigError(key + ".batch_flows", "must be at least 1");
    if (n["batch_interval"]) c.batch_interval_ns = yaml::duration_value(n["batch_interval"], key + ".batch_interval");
    if (c.batch_interval_ns < 100'000'000) throw ConfigError(key + ".batch_interval", "must be at least 100ms");
    if (n["max_buffered_flows"])
        c.max_buffered_flows = yaml::unsigned_value(n["max_buffered_flows"], key + ".max_buffered_flows", 1ull << 28);
    // Shards hand over up to 4096 records at a time; half the buffer is for them, half for batches.
    if (c.max_buffered_flows < std::max<std::size_t>(16384, 2 * c.batch_flows))
        throw ConfigError(key + ".max_buffered_flows", "must be at least 16384 and twice batch_flows");
    if (n["spool_dir"]) c.spool_dir = yaml::scalar(n["spool_dir"], key + ".spool_dir");
    if (n["max_spool_size"]) c.max_spool_bytes = yaml::size_value(n["max_spool_size"], key + ".max_spool_size");
    if (n["timeout"]) c.timeout_ns = yaml::duration_value(n["timeout"], key + ".timeout");
    if (c.timeout_ns == 0) throw ConfigError(key + ".timeout", "must be more than 0");
    if (n["retry_max"]) c.retry_max_ns = yaml::duration_value(n["retry_max"], key + ".retry_max");
    if (c.retry_max_ns < 1'000'000'000) throw ConfigError(key + ".retry_max", "must be at least 1s");
    if (n["stop_grace"]) c.stop_grace_ns = yaml::duration_value(n["stop_grace"], key + ".stop_grace");
    if (n["ca_file"]) c.ca_file = yaml::scalar(n["ca_file"], key + ".ca_file");
    if (n["tls_verify"]) c.tls_verify = yaml::boolean_value(n["tls_verify"], key + ".tls_verify");
    if (n["retention"]) read_clickhouse_retention(n["retention"], c.retention);
}

void read_metrics_config(const YAML::Node& n, MetricsConfig& m) {
    const std::string key = "metrics";
    yaml::require_known_keys(n, key,
                             {"listen", "username", "password", "tls_cert_file", "tls_key_file", "max_exporters",
                              "max_interfaces", "top_k", "top_window", "max_window_keys", "applications"});
    if (n["listen"]) m.listen = yaml::scalar(n["listen"], key + ".listen");
    // Checked as the server will read it, so that check-config refuses what run would.
    if (!m.listen.empty()) yaml::with_key(key + ".listen", [&] { return parse_metrics_listen(m.listen); });
    if (n["username"]) m.username = yaml::scalar(n["username"], key + ".username");
    if (n["password"]) m.password = yaml::scalar(n["password"], key + ".password");
    if (m.username.empty() != m.password.empty())
        throw ConfigError(key + ".username", "basic auth needs both username and password");
    if (n["tls_cert_file"]) m.tls_cert_file = yaml::scalar(n["tls_cert_file"], key + ".tls_cert_file");
    if (n["tls_key_file"]) m.tls_key_file = yaml::scalar(n["tls_key_file"], key + ".tls_key_file");
    if (m.tls_cert_file.empty() != m.tls_key_file.empty())
        throw ConfigError(key + ".tls_cert_file", "HTTPS needs both tls_cert_file and tls_key_file");
    if (n["max_exporters"]) m.max_exporters = yaml::unsigned_value(n["max_exporters"], key + ".max_exporters", 65536);
    if (n["max_interfaces"])
        m.max_interfaces = yaml::unsigned_value(n["max_interfaces"], key + ".max_interfaces", 1u << 20);
    if (n["top_k"]) m.top_k = yaml::unsigned_value(n["top_k"], key + ".top_k", 100);
    if (m.top_k == 0) throw ConfigError(key + ".top_k", "must be at least 1");
    if (n["top_window"])
        m.top_window_ns =
            yaml::with_key(key + ".top_window", [&] { return parse_duration_ns(yaml::scalar(n["top_window"], key)); });
    if (m.top_window_ns < 1'000'000'000ull) throw ConfigError(key + ".top_window", "must be at least 1s");
    if (n["max_window_keys"])
        m.max_window_keys = yaml::unsigned_value(n["max_window_keys"], key + ".max_window_keys", 1u << 24);
    if (const auto& apps = n["applications"]) {
        if (!apps.IsMap()) throw ConfigError(key + ".applications", "expected a map such as {https: [443, 8443]}");
        for (const auto& kv : apps) {
            ApplicationPorts a;
            a.name = kv.first.as<std::string>();
            const auto item_key = fmt::format("{}.applications.{}", key, a.name);
            if (!kv.second.IsSequence()) throw ConfigError(item_key, "expected a list of ports");
            for (std::size_t i = 0; i < kv.second.size(); ++i)
                a.ports.push_back(static_cast<std::uint16_t>(yaml::unsigned_value(kv.second[i], item_key, 65535)));
            m.applications.push_back(std::move(a));
        }
        if (m.applications.size() > 250) throw ConfigError(key + ".applications", "at most 250 applications");
    }
}

void read_alerts_config(const YAML::Node& n, AlertsConfig& a) {
    yaml::require_known_keys(n, "alerts",
                             {"path", "webhooks", "spool_dir", "max_spooled", "retry_max", "format", "state_file",
                              "resolve_after", "max_open", "sensor"});
    if (n["path"]) a.path = yaml::scalar(n["path"], "alerts.path");
    if (n["format"]) a.format = yaml::scalar(n["format"], "alerts.format");
    if (a.format != "native" && a.format != "ecs")
        throw ConfigError("alerts.format", fmt::format("'{}' is not one of native, ecs", a.format));
    if (n["state_file"]) a.state_file = yaml::scalar(n["state_file"], "alerts.state_file");
    if (n["resolve_after"])
        a.resolve_after_ns = yaml::with_key("alerts.resolve_after", [&] {
            return parse_duration_ns(yaml::scalar(n["resolve_after"], "alerts.resolve_after"));
        });
    if (a.resolve_after_ns < 1'000'000'000ull) throw ConfigError("alerts.resolve_after", "must be at least 1s");
    if (n["max_open"]) a.max_open = yaml::unsigned_value(n["max_open"], "alerts.max_open", 10'000'000);
    if (a.max_open == 0) throw ConfigError("alerts.max_open", "must be at least 1");
    if (n["sensor"]) a.sensor = yaml::scalar(n["sensor"], "alerts.sensor");
    if (n["spool_dir"]) a.spool_dir = yaml::scalar(n["spool_dir"], "alerts.spool_dir");
    if (n["max_spooled"]) a.max_spooled = yaml::unsigned_value(n["max_spooled"], "alerts.max_spooled", 10'000'000);
    if (a.max_spooled == 0) throw ConfigError("alerts.max_spooled", "must be at least 1");
    if (n["retry_max"])
        a.retry_max_ns = yaml::with_key(
            "alerts.retry_max", [&] { return parse_duration_ns(yaml::scalar(n["retry_max"], "alerts.retry_max")); });
    if (a.retry_max_ns < 1'000'000'000ull) throw ConfigError("alerts.retry_max", "must be at least 1s");
    if (const auto& list = n["webhooks"]) {
        if (!list.IsSequence()) throw ConfigError("alerts.webhooks", "expected a list of webhooks");
        a.webhooks.clear();
        for (std::size_t i = 0; i < list.size(); ++i) {
            auto w = read_webhook(list[i], fmt::format("alerts.webhooks[{}]", i));
            for (const auto& other : a.webhooks)
                if (other.name == w.name)
                    throw ConfigError(fmt::format("alerts.webhooks[{}].name", i),
                                      fmt::format("'{}' is used twice", w.name));
            a.webhooks.push_back(std::move(w));
        }
        if (a.webhooks.size() > 32) throw ConfigError("alerts.webhooks", "at most 32 webhooks");
    }
}

void write_output_config(YAML::Emitter& out, const OutputConfig& o) {
    out << YAML::BeginMap << YAML::Key << "path" << YAML::Value << o.path << YAML::Key << "format" << YAML::Value
        << o.format << YAML::EndMap;
}

void write_metrics_config(YAML::Emitter& out, const MetricsConfig& m) {
    out << YAML::BeginMap << YAML::Key << "listen" << YAML::Value << m.listen << YAML::Key << "username" << YAML::Value
        << m.username << YAML::Key << "password" << YAML::Value << (m.password.empty() ? "" : "<set>") << YAML::Key
        << "tls_cert_file" << YAML::Value << m.tls_cert_file << YAML::Key << "tls_key_file" << YAML::Value
        << m.tls_key_file << YAML::Key << "max_exporters" << YAML::Value << m.max_exporters << YAML::Key
        << "max_interfaces" << YAML::Value << m.max_interfaces << YAML::Key << "top_k" << YAML::Value << m.top_k
        << YAML::Key << "top_window" << YAML::Value << fmt::format("{}s", m.top_window_ns / 1'000'000'000) << YAML::Key
        << "max_window_keys" << YAML::Value << m.max_window_keys << YAML::Key << "applications" << YAML::Value
        << YAML::BeginMap;
    for (const auto& app : m.applications) out << YAML::Key << app.name << YAML::Value << YAML::Flow << app.ports;
    out << YAML::EndMap << YAML::EndMap;
}

void write_archive_config(YAML::Emitter& out, const ArchiveConfig& a) {
    out << YAML::BeginMap << YAML::Key << "path" << YAML::Value << a.path << YAML::Key << "interval" << YAML::Value
        << fmt::format("{}s", a.interval_ns / 1'000'000'000) << YAML::Key << "max_age" << YAML::Value
        << fmt::format("{}s", a.max_age_ns / 1'000'000'000) << YAML::Key << "max_size" << YAML::Value << a.max_bytes
        << YAML::Key << "compression" << YAML::Value << a.compression << YAML::Key << "max_queued_flows" << YAML::Value
        << a.max_queued_flows << YAML::Key << "events" << YAML::Value << a.events << YAML::Key << "events_path"
        << YAML::Value << a.events_path << YAML::Key << "max_queued_events" << YAML::Value << a.max_queued_events
        << YAML::EndMap;
}

void write_clickhouse_config(YAML::Emitter& out, const ClickHouseConfig& c) {
    const auto seconds = [](std::uint64_t ns) { return fmt::format("{}s", ns / 1'000'000'000); };
    out << YAML::BeginMap << YAML::Key << "url" << YAML::Value << c.url << YAML::Key << "database" << YAML::Value
        << c.database << YAML::Key << "username" << YAML::Value << c.username << YAML::Key << "password" << YAML::Value
        << (c.password.empty() ? "" : "<set>") << YAML::Key << "create_schema" << YAML::Value << c.create_schema
        << YAML::Key << "cluster" << YAML::Value << c.cluster << YAML::Key << "batch_flows" << YAML::Value
        << c.batch_flows << YAML::Key << "batch_interval" << YAML::Value
        << fmt::format("{}ms", c.batch_interval_ns / 1'000'000) << YAML::Key << "max_buffered_flows" << YAML::Value
        << c.max_buffered_flows << YAML::Key << "spool_dir" << YAML::Value << c.spool_dir << YAML::Key
        << "max_spool_size" << YAML::Value << c.max_spool_bytes << YAML::Key << "timeout" << YAML::Value
        << seconds(c.timeout_ns) << YAML::Key << "retry_max" << YAML::Value << seconds(c.retry_max_ns) << YAML::Key
        << "stop_grace" << YAML::Value << fmt::format("{}ms", c.stop_grace_ns / 1'000'000) << YAML::Key << "ca_file"
        << YAML::Value << c.ca_file << YAML::Key << "tls_verify" << YAML::Value << c.tls_verify << YAML::Key
        << "retention" << YAML::Value << YAML::BeginMap << YAML::Key << "flows" << YAML::Value
        << seconds(c.retention.flows_ns) << YAML::Key << "flows_1m" << YAML::Value << seconds(c.retention.flows_1m_ns)
        << YAML::Key << "flows_5m" << YAML::Value << seconds(c.retention.flows_5m_ns) << YAML::Key << "flows_1h"
        << YAML::Value << seconds(c.retention.flows_1h_ns) << YAML::EndMap << YAML::EndMap;
}

void write_alerts_config(YAML::Emitter& out, const AlertsConfig& a) {
    out << YAML::BeginMap << YAML::Key << "path" << YAML::Value << a.path << YAML::Key << "format" << YAML::Value
        << a.format << YAML::Key << "state_file" << YAML::Value << a.state_file << YAML::Key << "resolve_after"
        << YAML::Value << fmt::format("{}s", a.resolve_after_ns / 1'000'000'000) << YAML::Key << "max_open"
        << YAML::Value << a.max_open << YAML::Key << "sensor" << YAML::Value << a.sensor << YAML::Key << "spool_dir"
        << YAML::Value << a.spool_dir << YAML::Key << "max_spooled" << YAML::Value << a.max_spooled << YAML::Key
        << "retry_max" << YAML::Value << fmt::format("{}s", a.retry_max_ns / 1'000'000'000) << YAML::Key << "webhooks"
        << YAML::Value << YAML::BeginSeq;
    for (const auto& w : a.webhooks) {
        out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << w.name << YAML::Key << "kind" << YAML::Value
            << w.kind << YAML::Key << "url" << YAML::Value << w.url << YAML::Key << "secret" << YAML::Value
            << (w.secret.empty() ? "" : "<set>") << YAML::Key << "routing_key" << YAML::Value
            << (w.routing_key.empty() ? "" : "<set>") << YAML::Key << "headers" << YAML::Value << YAML::BeginMap;
        for (const auto& [name, value] : w.headers) out << YAML::Key << name << YAML::Value << "<set>";
        out << YAML::EndMap << YAML::Key << "min_severity" << YAML::Value << w.min_severity << YAML::Key << "timeout"
            << YAML::Value << fmt::format("{}ms", w.timeout_ns / 1'000'000) << YAML::Key << "ca_file" << YAML::Value
            << w.ca_file << YAML::Key << "tls_verify" << YAML::Value << w.tls_verify << YAML::Key << "format"
            << YAML::Value << w.format << YAML::EndMap;
    }
    out << YAML::EndSeq << YAML::EndMap;
}

}  // namespace flowguard
