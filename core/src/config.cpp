#include <flowguard/core/config.hpp>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <initializer_list>
#include <sstream>

namespace flowguard {
namespace {

std::string child_key(const std::string& parent, std::string_view name) {
    return parent.empty() ? std::string(name) : fmt::format("{}.{}", parent, name);
}

// Rejects keys we do not know, so a typo is an error instead of a silently ignored setting.
void require_known_keys(const YAML::Node& map, const std::string& where,
                        std::initializer_list<std::string_view> known) {
    if (!map.IsMap()) throw ConfigError(where.empty() ? "(top level)" : where, "expected a mapping");
    for (const auto& kv : map) {
        const auto name = kv.first.as<std::string>();
        if (std::find(known.begin(), known.end(), name) == known.end()) {
            std::string list;
            for (auto k : known) list += fmt::format("{}{}", list.empty() ? "" : ", ", k);
            throw ConfigError(child_key(where, name), fmt::format("unknown key (known here: {})", list));
        }
    }
}

std::string scalar(const YAML::Node& node, const std::string& key) {
    if (!node.IsScalar()) throw ConfigError(key, "expected a single value");
    return node.Scalar();
}

std::uint64_t unsigned_value(const YAML::Node& node, const std::string& key, std::uint64_t max) {
    const auto text = scalar(node, key);
    std::uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || ptr != text.data() + text.size())
        throw ConfigError(key, fmt::format("'{}' is not a non-negative whole number", text));
    if (v > max) throw ConfigError(key, fmt::format("{} is larger than the maximum {}", v, max));
    return v;
}

bool boolean_value(const YAML::Node& node, const std::string& key) {
    const auto text = scalar(node, key);
    if (text == "true" || text == "yes" || text == "on") return true;
    if (text == "false" || text == "no" || text == "off") return false;
    throw ConfigError(key, fmt::format("'{}' is not true or false", text));
}

template <typename Parse>
auto with_key(const std::string& key, Parse&& parse) {
    try {
        return parse();
    } catch (const ConfigError& e) {
        if (!e.key().empty()) throw;
        throw ConfigError(key, e.problem());
    }
}

void read_templates(const YAML::Node& n, const std::string& key, TemplateLimits& t) {
    require_known_keys(n, key, {"max_templates", "max_templates_per_exporter", "max_fields_per_template"});
    if (n["max_templates"]) t.max_templates = unsigned_value(n["max_templates"], key + ".max_templates", 1u << 24);
    if (n["max_templates_per_exporter"])
        t.max_templates_per_exporter =
            unsigned_value(n["max_templates_per_exporter"], key + ".max_templates_per_exporter", 1u << 20);
    if (n["max_fields_per_template"])
        t.max_fields_per_template =
            unsigned_value(n["max_fields_per_template"], key + ".max_fields_per_template", 65535);
    if (t.max_templates == 0) throw ConfigError(key + ".max_templates", "must be at least 1");
    if (t.max_templates_per_exporter == 0) throw ConfigError(key + ".max_templates_per_exporter", "must be at least 1");
}

void read_pending(const YAML::Node& n, const std::string& key, PendingDataLimits& p) {
    require_known_keys(n, key, {"max_age", "max_bytes", "max_sets_per_template"});
    if (n["max_age"])
        p.max_age_ns =
            with_key(key + ".max_age", [&] { return parse_duration_ns(scalar(n["max_age"], key + ".max_age")); });
    if (n["max_bytes"])
        p.max_bytes =
            with_key(key + ".max_bytes", [&] { return parse_size_bytes(scalar(n["max_bytes"], key + ".max_bytes")); });
    if (n["max_sets_per_template"])
        p.max_sets_per_template = unsigned_value(n["max_sets_per_template"], key + ".max_sets_per_template", 1u << 20);
}

void read_exporters(const YAML::Node& n, const std::string& key, std::vector<ExporterSettings>& out) {
    if (!n.IsSequence()) throw ConfigError(key, "expected a list of exporters");
    out.clear();
    for (std::size_t i = 0; i < n.size(); ++i) {
        const auto item_key = fmt::format("{}[{}]", key, i);
        const auto& item = n[i];
        require_known_keys(item, item_key, {"address", "sampling_rate"});
        if (!item["address"]) throw ConfigError(item_key + ".address", "missing (the exporter's IP address)");
        ExporterSettings e;
        const auto text = scalar(item["address"], item_key + ".address");
        auto addr = IpAddress::parse(text);
        if (!addr) throw ConfigError(item_key + ".address", fmt::format("'{}' is not an IPv4 or IPv6 address", text));
        e.address = *addr;
        if (item["sampling_rate"])
            e.sampling_rate = unsigned_value(item["sampling_rate"], item_key + ".sampling_rate", 1u << 30);
        out.push_back(e);
    }
}

void read_collector(const YAML::Node& n, CollectorConfig& c) {
    const std::string key = "collector";
    require_known_keys(
        n, key,
        {"listen", "socket_receive_buffer", "max_streams", "max_interfaces", "receive_threads", "recv_batch",
         "max_datagram", "receive_coalesce", "state_file", "templates", "pending_data", "exporters"});
    if (n["receive_threads"]) c.receive_threads = unsigned_value(n["receive_threads"], key + ".receive_threads", 256);
    if (n["recv_batch"]) c.recv_batch = unsigned_value(n["recv_batch"], key + ".recv_batch", 1024);
    if (c.recv_batch == 0) throw ConfigError(key + ".recv_batch", "must be at least 1");
    if (n["max_datagram"]) c.max_datagram = unsigned_value(n["max_datagram"], key + ".max_datagram", 65535);
    if (c.max_datagram < 1500) throw ConfigError(key + ".max_datagram", "must be at least 1500");
    if (n["receive_coalesce"]) {
        c.receive_coalesce_ns = with_key(key + ".receive_coalesce", [&] {
            return parse_duration_ns(scalar(n["receive_coalesce"], key + ".receive_coalesce"));
        });
        // A nap is latency added to the records it holds back; next to exporters' own active and inactive
        // timeouts (seconds to minutes) tens of ms are nothing. The bound is a sanity check, not what keeps
        // the socket from overflowing: the pacer sizes each nap to half of what the slots and buffer hold.
        if (c.receive_coalesce_ns > 50'000'000) throw ConfigError(key + ".receive_coalesce", "must be at most 50ms");
    }
    if (n["state_file"]) c.state_file = scalar(n["state_file"], key + ".state_file");
    if (const auto& l = n["listen"]) {
        if (!l.IsSequence()) throw ConfigError(key + ".listen", "expected a list such as [udp://0.0.0.0:2055]");
        c.listen.clear();
        for (std::size_t i = 0; i < l.size(); ++i) {
            const auto item_key = fmt::format("{}.listen[{}]", key, i);
            c.listen.push_back(with_key(item_key, [&] { return ListenEndpoint::parse(scalar(l[i], item_key)); }));
        }
    }
    if (n["socket_receive_buffer"])
        c.socket_receive_buffer = with_key(key + ".socket_receive_buffer",
                                           [&] { return parse_size_bytes(scalar(n["socket_receive_buffer"], key)); });
    if (n["max_streams"]) c.max_streams = unsigned_value(n["max_streams"], key + ".max_streams", 1u << 24);
    if (c.max_streams == 0) throw ConfigError(key + ".max_streams", "must be at least 1");
    if (n["max_interfaces"]) c.max_interfaces = unsigned_value(n["max_interfaces"], key + ".max_interfaces", 1u << 24);
    if (n["templates"]) read_templates(n["templates"], key + ".templates", c.templates);
    if (n["pending_data"]) read_pending(n["pending_data"], key + ".pending_data", c.pending);
    if (n["exporters"]) read_exporters(n["exporters"], key + ".exporters", c.exporters);
}

void read_meter(const YAML::Node& n, MeterConfig& m) {
    const std::string key = "meter";
    require_known_keys(
        n, key,
        {"interface", "bpf_filter", "snaplen", "promiscuous", "buffer_size", "capture_threads", "active_timeout",
         "idle_timeout", "tcp_end_timeout", "max_flows", "max_fragments", "dns", "export", "export_domain"});
    auto duration = [&](const char* name, std::uint64_t& out) {
        if (!n[name]) return;
        out = with_key(key + "." + name, [&] { return parse_duration_ns(scalar(n[name], key + "." + name)); });
        if (out == 0) throw ConfigError(key + "." + name, "must be longer than 0");
    };
    auto flag = [&](const char* name, bool& out) {
        if (n[name]) out = boolean_value(n[name], key + "." + name);
    };
    if (n["interface"]) m.interface = scalar(n["interface"], key + ".interface");
    if (n["bpf_filter"]) m.bpf_filter = scalar(n["bpf_filter"], key + ".bpf_filter");
    if (n["snaplen"]) m.snaplen = unsigned_value(n["snaplen"], key + ".snaplen", 262144);
    if (m.snaplen < 64) throw ConfigError(key + ".snaplen", "must be at least 64");
    if (n["buffer_size"])
        m.buffer_size = with_key(key + ".buffer_size", [&] { return parse_size_bytes(scalar(n["buffer_size"], key)); });
    if (n["capture_threads"]) m.capture_threads = unsigned_value(n["capture_threads"], key + ".capture_threads", 64);
    if (m.capture_threads == 0) throw ConfigError(key + ".capture_threads", "must be at least 1");
    duration("active_timeout", m.active_timeout_ns);
    duration("idle_timeout", m.idle_timeout_ns);
    duration("tcp_end_timeout", m.tcp_end_timeout_ns);
    if (n["max_flows"]) m.max_flows = unsigned_value(n["max_flows"], key + ".max_flows", 1u << 28);
    if (m.max_flows < 16) throw ConfigError(key + ".max_flows", "must be at least 16");
    if (n["max_fragments"]) m.max_fragments = unsigned_value(n["max_fragments"], key + ".max_fragments", 1u << 24);
    flag("promiscuous", m.promiscuous);
    flag("dns", m.dns);
    if (n["export"]) {
        m.export_to = scalar(n["export"], key + ".export");
        if (!m.export_to.empty()) with_key(key + ".export", [&] { return ListenEndpoint::parse(m.export_to); });
    }
    if (n["export_domain"])
        m.export_domain =
            static_cast<std::uint32_t>(unsigned_value(n["export_domain"], key + ".export_domain", 0xffffffffu));
}

double unit_value(const YAML::Node& node, const std::string& key) {
    const auto text = scalar(node, key);
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || !(v >= 0.0 && v <= 1.0))
        throw ConfigError(key, fmt::format("'{}' is not a number between 0 and 1", text));
    return v;
}

std::vector<std::string> string_list(const YAML::Node& node, const std::string& key) {
    if (!node.IsSequence()) throw ConfigError(key, "expected a list");
    std::vector<std::string> out;
    for (std::size_t i = 0; i < node.size(); ++i) out.push_back(scalar(node[i], fmt::format("{}[{}]", key, i)));
    return out;
}

void read_analyzer(const YAML::Node& n, AnalyzerConfig& a) {
    const std::string key = "analyzer";
    require_known_keys(n, key, {"beacon", "dga", "ioc_files", "resolvers", "public_suffix_list"});
    if (const auto& b = n["beacon"]) {
        const std::string bk = key + ".beacon";
        require_known_keys(b, bk,
                           {"min_connections", "threshold", "min_dispersion_score", "max_clients_per_target",
                            "max_series", "allow_ports", "allow_domains"});
        if (b["min_connections"])
            a.beacon.min_connections = unsigned_value(b["min_connections"], bk + ".min_connections", 48);
        if (a.beacon.min_connections < 4) throw ConfigError(bk + ".min_connections", "must be at least 4");
        if (b["threshold"]) a.beacon.threshold = unit_value(b["threshold"], bk + ".threshold");
        if (b["min_dispersion_score"])
            a.beacon.min_dispersion_score = unit_value(b["min_dispersion_score"], bk + ".min_dispersion_score");
        if (b["max_clients_per_target"])
            a.beacon.max_clients_per_target =
                unsigned_value(b["max_clients_per_target"], bk + ".max_clients_per_target", 8);
        if (b["max_series"]) a.beacon.max_series = unsigned_value(b["max_series"], bk + ".max_series", 1u << 26);
        if (a.beacon.max_series < 16) throw ConfigError(bk + ".max_series", "must be at least 16");
        if (b["allow_ports"]) {
            a.beacon.allow_ports.clear();
            const auto& ports = b["allow_ports"];
            if (!ports.IsSequence()) throw ConfigError(bk + ".allow_ports", "expected a list of ports");
            for (std::size_t i = 0; i < ports.size(); ++i)
                a.beacon.allow_ports.push_back(static_cast<std::uint16_t>(
                    unsigned_value(ports[i], fmt::format("{}.allow_ports[{}]", bk, i), 65535)));
        }
        if (b["allow_domains"]) a.beacon.allow_domains = string_list(b["allow_domains"], bk + ".allow_domains");
    }
    if (const auto& d = n["dga"]) {
        const std::string dk = key + ".dga";
        require_known_keys(d, dk, {"min_unique_names", "threshold", "max_clients"});
        if (d["min_unique_names"])
            a.dga.min_unique_names = unsigned_value(d["min_unique_names"], dk + ".min_unique_names", 1u << 20);
        if (d["threshold"]) a.dga.threshold = unit_value(d["threshold"], dk + ".threshold");
        if (d["max_clients"]) a.dga.max_clients = unsigned_value(d["max_clients"], dk + ".max_clients", 1u << 16);
    }
    if (n["ioc_files"]) a.ioc_files = string_list(n["ioc_files"], key + ".ioc_files");
    if (n["resolvers"]) {
        a.resolvers = string_list(n["resolvers"], key + ".resolvers");
        for (std::size_t i = 0; i < a.resolvers.size(); ++i) {
            if (!IpAddress::parse(a.resolvers[i]))
                throw ConfigError(fmt::format("{}.resolvers[{}]", key, i),
                                  fmt::format("'{}' is not an IP address", a.resolvers[i]));
        }
    }
    if (n["public_suffix_list"]) a.public_suffix_list = scalar(n["public_suffix_list"], key + ".public_suffix_list");
}

void read_pipeline(const YAML::Node& n, PipelineConfig& p) {
    const std::string key = "pipeline";
    require_known_keys(n, key, {"shards", "batches_per_channel", "internal_networks"});
    if (n["shards"]) p.shards = unsigned_value(n["shards"], key + ".shards", 256);
    if (n["batches_per_channel"])
        p.batches_per_channel = unsigned_value(n["batches_per_channel"], key + ".batches_per_channel", 1u << 16);
    if (p.batches_per_channel < 2) throw ConfigError(key + ".batches_per_channel", "must be at least 2");
    if (const auto& nets = n["internal_networks"]) {
        if (!nets.IsSequence()) throw ConfigError(key + ".internal_networks", "expected a list of prefixes");
        p.internal_networks = NetworkSet{};
        for (std::size_t i = 0; i < nets.size(); ++i) {
            const auto item_key = fmt::format("{}.internal_networks[{}]", key, i);
            with_key(item_key, [&] {
                p.internal_networks.add(scalar(nets[i], item_key));
                return 0;
            });
        }
    }
}

void read_output(const YAML::Node& n, OutputConfig& o) {
    require_known_keys(n, "output", {"path", "format"});
    o.configured = true;
    if (n["path"]) o.path = scalar(n["path"], "output.path");
    if (n["format"]) {
        o.format = scalar(n["format"], "output.format");
        if (o.format != "json" && o.format != "csv" && o.format != "none")
            throw ConfigError("output.format", fmt::format("'{}' is not one of json, csv, none", o.format));
    }
}

void read_metrics(const YAML::Node& n, MetricsConfig& m) {
    const std::string key = "metrics";
    require_known_keys(n, key,
                       {"listen", "username", "password", "tls_cert_file", "tls_key_file", "max_exporters",
                        "max_interfaces", "top_k", "top_window", "max_window_keys", "applications"});
    if (n["listen"]) m.listen = scalar(n["listen"], key + ".listen");
    if (!m.listen.empty() && m.listen.rfind(':') == std::string::npos)
        throw ConfigError(key + ".listen", fmt::format("'{}' is not ADDR:PORT", m.listen));
    if (n["username"]) m.username = scalar(n["username"], key + ".username");
    if (n["password"]) m.password = scalar(n["password"], key + ".password");
    if (m.username.empty() != m.password.empty())
        throw ConfigError(key + ".username", "basic auth needs both username and password");
    if (n["tls_cert_file"]) m.tls_cert_file = scalar(n["tls_cert_file"], key + ".tls_cert_file");
    if (n["tls_key_file"]) m.tls_key_file = scalar(n["tls_key_file"], key + ".tls_key_file");
    if (m.tls_cert_file.empty() != m.tls_key_file.empty())
        throw ConfigError(key + ".tls_cert_file", "HTTPS needs both tls_cert_file and tls_key_file");
    if (n["max_exporters"]) m.max_exporters = unsigned_value(n["max_exporters"], key + ".max_exporters", 65536);
    if (n["max_interfaces"]) m.max_interfaces = unsigned_value(n["max_interfaces"], key + ".max_interfaces", 1u << 20);
    if (n["top_k"]) m.top_k = unsigned_value(n["top_k"], key + ".top_k", 100);
    if (m.top_k == 0) throw ConfigError(key + ".top_k", "must be at least 1");
    if (n["top_window"])
        m.top_window_ns =
            with_key(key + ".top_window", [&] { return parse_duration_ns(scalar(n["top_window"], key)); });
    if (m.top_window_ns < 1'000'000'000ull) throw ConfigError(key + ".top_window", "must be at least 1s");
    if (n["max_window_keys"])
        m.max_window_keys = unsigned_value(n["max_window_keys"], key + ".max_window_keys", 1u << 24);
    if (const auto& apps = n["applications"]) {
        if (!apps.IsMap()) throw ConfigError(key + ".applications", "expected a map such as {https: [443, 8443]}");
        for (const auto& kv : apps) {
            ApplicationPorts a;
            a.name = kv.first.as<std::string>();
            const auto item_key = fmt::format("{}.applications.{}", key, a.name);
            if (!kv.second.IsSequence()) throw ConfigError(item_key, "expected a list of ports");
            for (std::size_t i = 0; i < kv.second.size(); ++i)
                a.ports.push_back(static_cast<std::uint16_t>(unsigned_value(kv.second[i], item_key, 65535)));
            m.applications.push_back(std::move(a));
        }
        if (m.applications.size() > 250) throw ConfigError(key + ".applications", "at most 250 applications");
    }
}

WebhookConfig read_webhook(const YAML::Node& item, const std::string& key) {
    require_known_keys(item, key,
                       {"name", "kind", "url", "secret", "routing_key", "headers", "min_severity", "timeout", "ca_file",
                        "tls_verify"});
    WebhookConfig w;
    if (!item["name"]) throw ConfigError(key + ".name", "missing (names the metric label and the spool directory)");
    w.name = scalar(item["name"], key + ".name");
    if (w.name.empty() || w.name.size() > 64 || !std::all_of(w.name.begin(), w.name.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
        }))
        throw ConfigError(key + ".name", fmt::format("'{}' must be 1-64 letters, digits, '_' or '-'", w.name));
    if (item["kind"]) w.kind = scalar(item["kind"], key + ".kind");
    if (w.kind != "generic" && w.kind != "slack" && w.kind != "pagerduty" && w.kind != "alertmanager")
        throw ConfigError(key + ".kind",
                          fmt::format("'{}' is not one of generic, slack, pagerduty, alertmanager", w.kind));
    if (!item["url"]) throw ConfigError(key + ".url", "missing");
    w.url = scalar(item["url"], key + ".url");
    if (!w.url.starts_with("http://") && !w.url.starts_with("https://"))
        throw ConfigError(key + ".url", fmt::format("'{}' is not an http:// or https:// URL", w.url));
    if (item["secret"]) w.secret = scalar(item["secret"], key + ".secret");
    if (item["routing_key"]) w.routing_key = scalar(item["routing_key"], key + ".routing_key");
    if (w.kind == "pagerduty" && w.routing_key.empty())
        throw ConfigError(key + ".routing_key", "required for a pagerduty webhook (the integration key)");
    if (const auto& h = item["headers"]) {
        if (!h.IsMap()) throw ConfigError(key + ".headers", "expected a map such as {Authorization: Bearer ...}");
        for (const auto& kv : h) {
            const auto name = kv.first.as<std::string>();
            const auto value = scalar(kv.second, key + ".headers." + name);
            if (name.find_first_of(":\r\n") != std::string::npos || value.find_first_of("\r\n") != std::string::npos)
                throw ConfigError(key + ".headers." + name,
                                  "header names and values cannot hold ':' (names) or line breaks");
            w.headers.emplace_back(name, value);
        }
    }
    if (item["min_severity"]) w.min_severity = scalar(item["min_severity"], key + ".min_severity");
    static constexpr std::string_view severities[] = {"low", "medium", "high", "critical"};
    if (std::find(std::begin(severities), std::end(severities), w.min_severity) == std::end(severities))
        throw ConfigError(key + ".min_severity",
                          fmt::format("'{}' is not one of low, medium, high, critical", w.min_severity));
    if (item["timeout"])
        w.timeout_ns =
            with_key(key + ".timeout", [&] { return parse_duration_ns(scalar(item["timeout"], key + ".timeout")); });
    if (w.timeout_ns == 0) throw ConfigError(key + ".timeout", "must be more than 0");
    if (item["ca_file"]) w.ca_file = scalar(item["ca_file"], key + ".ca_file");
    if (item["tls_verify"]) w.tls_verify = boolean_value(item["tls_verify"], key + ".tls_verify");
    return w;
}

void read_alerts(const YAML::Node& n, AlertsConfig& a) {
    require_known_keys(n, "alerts", {"path", "webhooks", "spool_dir", "max_spooled", "retry_max"});
    if (n["path"]) a.path = scalar(n["path"], "alerts.path");
    if (n["spool_dir"]) a.spool_dir = scalar(n["spool_dir"], "alerts.spool_dir");
    if (n["max_spooled"]) a.max_spooled = unsigned_value(n["max_spooled"], "alerts.max_spooled", 10'000'000);
    if (a.max_spooled == 0) throw ConfigError("alerts.max_spooled", "must be at least 1");
    if (n["retry_max"])
        a.retry_max_ns =
            with_key("alerts.retry_max", [&] { return parse_duration_ns(scalar(n["retry_max"], "alerts.retry_max")); });
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

void read_log(const YAML::Node& n, LogConfig& l) {
    require_known_keys(n, "log", {"level", "format"});
    if (n["format"]) {
        l.format = scalar(n["format"], "log.format");
        if (l.format != "auto" && l.format != "text" && l.format != "json")
            throw ConfigError("log.format", fmt::format("'{}' is not one of auto, text, json", l.format));
    }
    if (n["level"]) {
        l.level = scalar(n["level"], "log.level");
        static constexpr std::string_view levels[] = {"trace", "debug", "info", "warn", "error", "off"};
        if (std::find(std::begin(levels), std::end(levels), l.level) == std::end(levels))
            throw ConfigError("log.level",
                              fmt::format("'{}' is not one of trace, debug, info, warn, error, off", l.level));
    }
}

std::uint64_t parse_number_prefix(std::string_view text, std::string_view& unit) {
    std::uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || ptr == text.data())
        throw ConfigError("", fmt::format("'{}' does not start with a number", text));
    unit = text.substr(static_cast<std::size_t>(ptr - text.data()));
    while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
    return v;
}

}  // namespace

ListenEndpoint ListenEndpoint::parse(std::string_view text) {
    std::string_view rest = text;
    if (rest.starts_with("udp://"))
        rest.remove_prefix(6);
    else if (rest.find("://") != std::string_view::npos)
        throw ConfigError("", fmt::format("'{}': only udp:// listeners are supported", text));
    ListenEndpoint ep;
    std::string_view host;
    std::string_view port;
    if (rest.starts_with('[')) {
        const auto close = rest.find(']');
        if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
            throw ConfigError("", fmt::format("'{}' is not [IPV6]:PORT", text));
        host = rest.substr(1, close - 1);
        port = rest.substr(close + 2);
    } else {
        const auto colon = rest.rfind(':');
        if (colon == std::string_view::npos) throw ConfigError("", fmt::format("'{}' has no :PORT", text));
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
    }
    unsigned p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc{} || ptr != port.data() + port.size() || p == 0 || p > 65535)
        throw ConfigError("", fmt::format("'{}': port must be 1-65535", text));
    ep.port = static_cast<std::uint16_t>(p);
    if (host.empty()) host = "0.0.0.0";
    if (!IpAddress::parse(host))
        throw ConfigError("", fmt::format("'{}': '{}' is not a numeric IP address", text, host));
    ep.address = std::string(host);
    return ep;
}

std::string ListenEndpoint::to_string() const {
    if (address.find(':') != std::string::npos) return fmt::format("udp://[{}]:{}", address, port);
    return fmt::format("udp://{}:{}", address, port);
}

std::uint64_t parse_duration_ns(std::string_view text) {
    std::string_view unit;
    const auto v = parse_number_prefix(text, unit);
    std::uint64_t scale = 0;
    if (unit.empty() || unit == "s")
        scale = 1'000'000'000ull;
    else if (unit == "ms")
        scale = 1'000'000ull;
    else if (unit == "us")
        scale = 1'000ull;
    else if (unit == "m" || unit == "min")
        scale = 60'000'000'000ull;
    else if (unit == "h")
        scale = 3'600'000'000'000ull;
    else
        throw ConfigError("", fmt::format("'{}': unit must be us, ms, s, m or h", text));
    if (v > UINT64_MAX / scale) throw ConfigError("", fmt::format("'{}' is too long", text));
    return v * scale;
}

std::size_t parse_size_bytes(std::string_view text) {
    std::string_view unit;
    const auto v = parse_number_prefix(text, unit);
    std::uint64_t scale = 0;
    if (unit.empty() || unit == "B")
        scale = 1;
    else if (unit == "KiB" || unit == "K")
        scale = 1ull << 10;
    else if (unit == "MiB" || unit == "M")
        scale = 1ull << 20;
    else if (unit == "GiB" || unit == "G")
        scale = 1ull << 30;
    else
        throw ConfigError("", fmt::format("'{}': unit must be B, KiB, MiB or GiB", text));
    if (v > (1ull << 40) / scale) throw ConfigError("", fmt::format("'{}' is too large", text));
    return static_cast<std::size_t>(v * scale);
}

Config parse_config(std::string_view yaml_text) {
    YAML::Node root;
    try {
        root = YAML::Load(std::string(yaml_text));
    } catch (const YAML::Exception& e) {
        throw ConfigError("", fmt::format("not valid YAML: {}", e.what()));
    }
    Config config;
    if (root.IsNull()) return config;
    require_known_keys(root, "", {"collector", "meter", "analyzer", "pipeline", "output", "log", "metrics", "alerts"});
    if (root["analyzer"]) read_analyzer(root["analyzer"], config.analyzer);
    if (root["collector"]) read_collector(root["collector"], config.collector);
    if (root["meter"]) read_meter(root["meter"], config.meter);
    if (root["pipeline"]) read_pipeline(root["pipeline"], config.pipeline);
    if (root["output"]) read_output(root["output"], config.output);
    if (root["log"]) read_log(root["log"], config.log);
    if (root["metrics"]) read_metrics(root["metrics"], config.metrics);
    if (root["alerts"]) read_alerts(root["alerts"], config.alerts);
    return config;
}

Config load_config_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) throw ConfigError("", fmt::format("cannot read config file '{}'", path.string()));
    std::ostringstream text;
    text << in.rdbuf();
    try {
        return parse_config(text.str());
    } catch (const ConfigError& e) {
        throw ConfigError(e.key(), fmt::format("{} (in {})", e.problem(), path.string()));
    }
}

std::string to_yaml(const Config& c) {
    YAML::Emitter out;
    out.SetDoublePrecision(6);
    out << YAML::BeginMap;
    out << YAML::Key << "collector" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "listen" << YAML::Value << YAML::BeginSeq;
    for (const auto& l : c.collector.listen) out << l.to_string();
    out << YAML::EndSeq;
    out << YAML::Key << "socket_receive_buffer" << YAML::Value << c.collector.socket_receive_buffer;
    out << YAML::Key << "max_streams" << YAML::Value << c.collector.max_streams;
    out << YAML::Key << "max_interfaces" << YAML::Value << c.collector.max_interfaces;
    out << YAML::Key << "receive_threads" << YAML::Value << c.collector.receive_threads;
    out << YAML::Key << "recv_batch" << YAML::Value << c.collector.recv_batch;
    out << YAML::Key << "max_datagram" << YAML::Value << c.collector.max_datagram;
    out << YAML::Key << "receive_coalesce" << YAML::Value
        << fmt::format("{}us", c.collector.receive_coalesce_ns / 1000);
    out << YAML::Key << "state_file" << YAML::Value << c.collector.state_file;
    out << YAML::Key << "templates" << YAML::Value << YAML::BeginMap << YAML::Key << "max_templates" << YAML::Value
        << c.collector.templates.max_templates << YAML::Key << "max_templates_per_exporter" << YAML::Value
        << c.collector.templates.max_templates_per_exporter << YAML::Key << "max_fields_per_template" << YAML::Value
        << c.collector.templates.max_fields_per_template << YAML::EndMap;
    out << YAML::Key << "pending_data" << YAML::Value << YAML::BeginMap << YAML::Key << "max_age" << YAML::Value
        << fmt::format("{}ms", c.collector.pending.max_age_ns / 1'000'000) << YAML::Key << "max_bytes" << YAML::Value
        << c.collector.pending.max_bytes << YAML::Key << "max_sets_per_template" << YAML::Value
        << c.collector.pending.max_sets_per_template << YAML::EndMap;
    out << YAML::Key << "exporters" << YAML::Value << YAML::BeginSeq;
    for (const auto& e : c.collector.exporters)
        out << YAML::BeginMap << YAML::Key << "address" << YAML::Value << e.address.to_string() << YAML::Key
            << "sampling_rate" << YAML::Value << e.sampling_rate << YAML::EndMap;
    out << YAML::EndSeq << YAML::EndMap;
    const auto& m = c.meter;
    auto ms = [](std::uint64_t ns) { return fmt::format("{}ms", ns / 1'000'000); };
    out << YAML::Key << "meter" << YAML::Value << YAML::BeginMap << YAML::Key << "interface" << YAML::Value
        << m.interface << YAML::Key << "bpf_filter" << YAML::Value << m.bpf_filter << YAML::Key << "snaplen"
        << YAML::Value << m.snaplen << YAML::Key << "promiscuous" << YAML::Value << m.promiscuous << YAML::Key
        << "buffer_size" << YAML::Value << m.buffer_size << YAML::Key << "capture_threads" << YAML::Value
        << m.capture_threads << YAML::Key << "active_timeout" << YAML::Value << ms(m.active_timeout_ns) << YAML::Key
        << "idle_timeout" << YAML::Value << ms(m.idle_timeout_ns) << YAML::Key << "tcp_end_timeout" << YAML::Value
        << ms(m.tcp_end_timeout_ns) << YAML::Key << "max_flows" << YAML::Value << m.max_flows << YAML::Key
        << "max_fragments" << YAML::Value << m.max_fragments << YAML::Key << "dns" << YAML::Value << m.dns << YAML::Key
        << "export" << YAML::Value << m.export_to << YAML::Key << "export_domain" << YAML::Value << m.export_domain
        << YAML::EndMap;
    const auto& a = c.analyzer;
    out << YAML::Key << "analyzer" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "beacon" << YAML::Value << YAML::BeginMap << YAML::Key << "min_connections" << YAML::Value
        << a.beacon.min_connections << YAML::Key << "threshold" << YAML::Value << a.beacon.threshold << YAML::Key
        << "min_dispersion_score" << YAML::Value << a.beacon.min_dispersion_score << YAML::Key
        << "max_clients_per_target" << YAML::Value << a.beacon.max_clients_per_target << YAML::Key << "max_series"
        << YAML::Value << a.beacon.max_series << YAML::Key << "allow_ports" << YAML::Value << YAML::Flow
        << a.beacon.allow_ports << YAML::Key << "allow_domains" << YAML::Value << YAML::Flow << a.beacon.allow_domains
        << YAML::EndMap;
    out << YAML::Key << "dga" << YAML::Value << YAML::BeginMap << YAML::Key << "min_unique_names" << YAML::Value
        << a.dga.min_unique_names << YAML::Key << "threshold" << YAML::Value << a.dga.threshold << YAML::Key
        << "max_clients" << YAML::Value << a.dga.max_clients << YAML::EndMap;
    out << YAML::Key << "ioc_files" << YAML::Value << YAML::Flow << a.ioc_files << YAML::Key << "resolvers"
        << YAML::Value << YAML::Flow << a.resolvers << YAML::Key << "public_suffix_list" << YAML::Value
        << a.public_suffix_list << YAML::EndMap;
    out << YAML::Key << "pipeline" << YAML::Value << YAML::BeginMap << YAML::Key << "shards" << YAML::Value
        << c.pipeline.shards << YAML::Key << "batches_per_channel" << YAML::Value << c.pipeline.batches_per_channel
        << YAML::Key << "internal_networks" << YAML::Value << c.pipeline.internal_networks.to_strings() << YAML::EndMap;
    out << YAML::Key << "output" << YAML::Value << YAML::BeginMap << YAML::Key << "path" << YAML::Value << c.output.path
        << YAML::Key << "format" << YAML::Value << c.output.format << YAML::EndMap;
    out << YAML::Key << "log" << YAML::Value << YAML::BeginMap << YAML::Key << "level" << YAML::Value << c.log.level
        << YAML::Key << "format" << YAML::Value << c.log.format << YAML::EndMap;
    const auto& mc = c.metrics;
    out << YAML::Key << "metrics" << YAML::Value << YAML::BeginMap << YAML::Key << "listen" << YAML::Value << mc.listen
        << YAML::Key << "username" << YAML::Value << mc.username << YAML::Key << "password" << YAML::Value
        << (mc.password.empty() ? "" : "<set>") << YAML::Key << "tls_cert_file" << YAML::Value << mc.tls_cert_file
        << YAML::Key << "tls_key_file" << YAML::Value << mc.tls_key_file << YAML::Key << "max_exporters" << YAML::Value
        << mc.max_exporters << YAML::Key << "max_interfaces" << YAML::Value << mc.max_interfaces << YAML::Key << "top_k"
        << YAML::Value << mc.top_k << YAML::Key << "top_window" << YAML::Value
        << fmt::format("{}s", mc.top_window_ns / 1'000'000'000) << YAML::Key << "max_window_keys" << YAML::Value
        << mc.max_window_keys << YAML::Key << "applications" << YAML::Value << YAML::BeginMap;
    for (const auto& app : mc.applications) out << YAML::Key << app.name << YAML::Value << YAML::Flow << app.ports;
    out << YAML::EndMap << YAML::EndMap;
    const auto& ac = c.alerts;
    out << YAML::Key << "alerts" << YAML::Value << YAML::BeginMap << YAML::Key << "path" << YAML::Value << ac.path
        << YAML::Key << "spool_dir" << YAML::Value << ac.spool_dir << YAML::Key << "max_spooled" << YAML::Value
        << ac.max_spooled << YAML::Key << "retry_max" << YAML::Value
        << fmt::format("{}s", ac.retry_max_ns / 1'000'000'000) << YAML::Key << "webhooks" << YAML::Value
        << YAML::BeginSeq;
    for (const auto& w : ac.webhooks) {
        out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << w.name << YAML::Key << "kind" << YAML::Value
            << w.kind << YAML::Key << "url" << YAML::Value << w.url << YAML::Key << "secret" << YAML::Value
            << (w.secret.empty() ? "" : "<set>") << YAML::Key << "routing_key" << YAML::Value
            << (w.routing_key.empty() ? "" : "<set>") << YAML::Key << "headers" << YAML::Value << YAML::BeginMap;
        for (const auto& [name, value] : w.headers) out << YAML::Key << name << YAML::Value << "<set>";
        out << YAML::EndMap << YAML::Key << "min_severity" << YAML::Value << w.min_severity << YAML::Key << "timeout"
            << YAML::Value << fmt::format("{}ms", w.timeout_ns / 1'000'000) << YAML::Key << "ca_file" << YAML::Value
            << w.ca_file << YAML::Key << "tls_verify" << YAML::Value << w.tls_verify << YAML::EndMap;
    }
    out << YAML::EndSeq << YAML::EndMap;
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

}  // namespace flowguard
