#include <flowguard/collector/config.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace flowguard {
namespace {

void read_templates(const YAML::Node& n, const std::string& key, TemplateLimits& t) {
    yaml::require_known_keys(n, key,
                             {"max_templates", "max_bytes", "max_templates_per_exporter", "max_fields_per_template"});
    if (n["max_templates"])
        t.max_templates = yaml::unsigned_value(n["max_templates"], key + ".max_templates", 1u << 24);
    if (n["max_bytes"])
        t.max_bytes = yaml::with_key(
            key + ".max_bytes", [&] { return parse_size_bytes(yaml::scalar(n["max_bytes"], key + ".max_bytes")); });
    if (t.max_bytes < (64u << 10)) throw ConfigError(key + ".max_bytes", "must be at least 64KiB");
    if (n["max_templates_per_exporter"])
        t.max_templates_per_exporter =
            yaml::unsigned_value(n["max_templates_per_exporter"], key + ".max_templates_per_exporter", 1u << 20);
    if (n["max_fields_per_template"])
        t.max_fields_per_template =
            yaml::unsigned_value(n["max_fields_per_template"], key + ".max_fields_per_template", 65535);
    if (t.max_templates == 0) throw ConfigError(key + ".max_templates", "must be at least 1");
    if (t.max_templates_per_exporter == 0) throw ConfigError(key + ".max_templates_per_exporter", "must be at least 1");
}

void read_pending(const YAML::Node& n, const std::string& key, PendingDataLimits& p) {
    yaml::require_known_keys(n, key, {"max_age", "max_bytes", "max_sets_per_template"});
    if (n["max_age"])
        p.max_age_ns = yaml::with_key(key + ".max_age",
                                      [&] { return parse_duration_ns(yaml::scalar(n["max_age"], key + ".max_age")); });
    if (n["max_bytes"])
        p.max_bytes = yaml::with_key(
            key + ".max_bytes", [&] { return parse_size_bytes(yaml::scalar(n["max_bytes"], key + ".max_bytes")); });
    if (n["max_sets_per_template"])
        p.max_sets_per_template =
            yaml::unsigned_value(n["max_sets_per_template"], key + ".max_sets_per_template", 1u << 20);
}

void read_exporters(const YAML::Node& n, const std::string& key, std::vector<ExporterSettings>& out) {
    if (!n.IsSequence()) throw ConfigError(key, "expected a list of exporters");
    out.clear();
    for (std::size_t i = 0; i < n.size(); ++i) {
        const auto item_key = fmt::format("{}[{}]", key, i);
        const auto& item = n[i];
        yaml::require_known_keys(item, item_key, {"address", "sampling_rate"});
        if (!item["address"]) throw ConfigError(item_key + ".address", "missing (the exporter's IP address)");
        ExporterSettings e;
        const auto text = yaml::scalar(item["address"], item_key + ".address");
        auto addr = IpAddress::parse(text);
        if (!addr) throw ConfigError(item_key + ".address", fmt::format("'{}' is not an IPv4 or IPv6 address", text));
        e.address = *addr;
        if (item["sampling_rate"])
            e.sampling_rate = yaml::unsigned_value(item["sampling_rate"], item_key + ".sampling_rate", 1u << 30);
        out.push_back(e);
    }
}

}  // namespace

void read_collector_config(const YAML::Node& n, CollectorConfig& c) {
    const std::string key = "collector";
    yaml::require_known_keys(n, key,
                             {"listen", "socket_receive_buffer", "max_streams", "max_streams_per_exporter",
                              "max_interfaces", "receive_threads", "recv_batch", "max_datagram", "receive_coalesce",
                              "state_file", "templates", "pending_data", "exporters"});
    if (n["receive_threads"])
        c.receive_threads = yaml::unsigned_value(n["receive_threads"], key + ".receive_threads", 256);
    if (n["recv_batch"]) c.recv_batch = yaml::unsigned_value(n["recv_batch"], key + ".recv_batch", 1024);
    if (c.recv_batch == 0) throw ConfigError(key + ".recv_batch", "must be at least 1");
    if (n["max_datagram"]) c.max_datagram = yaml::unsigned_value(n["max_datagram"], key + ".max_datagram", 65535);
    if (c.max_datagram < 1500) throw ConfigError(key + ".max_datagram", "must be at least 1500");
    if (n["receive_coalesce"]) {
        c.receive_coalesce_ns = yaml::with_key(key + ".receive_coalesce", [&] {
            return parse_duration_ns(yaml::scalar(n["receive_coalesce"], key + ".receive_coalesce"));
        });
        // A nap is latency added to the records it holds back; next to exporters' own active and inactive
        // timeouts (seconds to minutes) tens of ms are nothing. The bound is a sanity check, not what keeps
        // the socket from overflowing: the pacer sizes each nap to half of what the slots and buffer hold.
        if (c.receive_coalesce_ns > 50'000'000) throw ConfigError(key + ".receive_coalesce", "must be at most 50ms");
    }
    if (n["state_file"]) c.state_file = yaml::scalar(n["state_file"], key + ".state_file");
    if (const auto& l = n["listen"]) {
        if (!l.IsSequence()) throw ConfigError(key + ".listen", "expected a list such as [udp://0.0.0.0:2055]");
        c.listen.clear();
        for (std::size_t i = 0; i < l.size(); ++i) {
            const auto item_key = fmt::format("{}.listen[{}]", key, i);
            c.listen.push_back(
                yaml::with_key(item_key, [&] { return ListenEndpoint::parse(yaml::scalar(l[i], item_key)); }));
        }
    }
    if (n["socket_receive_buffer"])
        c.socket_receive_buffer = yaml::with_key(key + ".socket_receive_buffer", [&] {
            return parse_size_bytes(yaml::scalar(n["socket_receive_buffer"], key));
        });
    if (n["max_streams"]) c.max_streams = yaml::unsigned_value(n["max_streams"], key + ".max_streams", 1u << 24);
    if (c.max_streams == 0) throw ConfigError(key + ".max_streams", "must be at least 1");
    if (n["max_streams_per_exporter"])
        c.max_streams_per_exporter =
            yaml::unsigned_value(n["max_streams_per_exporter"], key + ".max_streams_per_exporter", 1u << 24);
    if (c.max_streams_per_exporter == 0) throw ConfigError(key + ".max_streams_per_exporter", "must be at least 1");
    if (n["max_interfaces"])
        c.max_interfaces = yaml::unsigned_value(n["max_interfaces"], key + ".max_interfaces", 1u << 24);
    if (n["templates"]) read_templates(n["templates"], key + ".templates", c.templates);
    if (n["pending_data"]) read_pending(n["pending_data"], key + ".pending_data", c.pending);
    if (n["exporters"]) read_exporters(n["exporters"], key + ".exporters", c.exporters);
}

CollectorConfig share_per_thread(const CollectorConfig& config, std::size_t threads) {
    CollectorConfig share = config;
    threads = std::max<std::size_t>(threads, 1);
    const auto divide = [&](std::size_t total, std::size_t floor) { return std::max(total / threads, floor); };
    share.max_streams = divide(config.max_streams, 1);
    share.max_streams_per_exporter = divide(config.max_streams_per_exporter, 1);
    share.max_interfaces = divide(config.max_interfaces, 1);
    share.templates.max_templates = divide(config.templates.max_templates, 1);
    share.templates.max_bytes = divide(config.templates.max_bytes, 16u << 10);
    share.pending.max_bytes = divide(config.pending.max_bytes, 4u << 10);
    return share;
}

void read_meter_config(const YAML::Node& n, MeterConfig& m) {
    const std::string key = "meter";
    yaml::require_known_keys(
        n, key,
        {"interface", "bpf_filter", "snaplen", "promiscuous", "buffer_size", "capture_threads", "active_timeout",
         "idle_timeout", "tcp_end_timeout", "max_flows", "max_fragments", "dns", "export", "export_domain"});
    auto duration = [&](const char* name, std::uint64_t& out) {
        if (!n[name]) return;
        out =
            yaml::with_key(key + "." + name, [&] { return parse_timeout_ns(yaml::scalar(n[name], key + "." + name)); });
    };
    auto flag = [&](const char* name, bool& out) {
        if (n[name]) out = yaml::boolean_value(n[name], key + "." + name);
    };
    if (n["interface"]) m.interface = yaml::scalar(n["interface"], key + ".interface");
    if (n["bpf_filter"]) m.bpf_filter = yaml::scalar(n["bpf_filter"], key + ".bpf_filter");
    if (n["snaplen"]) m.snaplen = yaml::unsigned_value(n["snaplen"], key + ".snaplen", 262144);
    if (m.snaplen < 64) throw ConfigError(key + ".snaplen", "must be at least 64");
    if (n["buffer_size"])
        m.buffer_size =
            yaml::with_key(key + ".buffer_size", [&] { return parse_size_bytes(yaml::scalar(n["buffer_size"], key)); });
    if (n["capture_threads"])
        m.capture_threads = yaml::unsigned_value(n["capture_threads"], key + ".capture_threads", 64);
    if (m.capture_threads == 0) throw ConfigError(key + ".capture_threads", "must be at least 1");
    duration("active_timeout", m.active_timeout_ns);
    duration("idle_timeout", m.idle_timeout_ns);
    duration("tcp_end_timeout", m.tcp_end_timeout_ns);
    if (n["max_flows"]) m.max_flows = yaml::unsigned_value(n["max_flows"], key + ".max_flows", 1u << 28);
    if (m.max_flows < 16) throw ConfigError(key + ".max_flows", "must be at least 16");
    if (n["max_fragments"])
        m.max_fragments = yaml::unsigned_value(n["max_fragments"], key + ".max_fragments", 1u << 24);
    flag("promiscuous", m.promiscuous);
    flag("dns", m.dns);
    if (n["export"]) {
        m.export_to = yaml::scalar(n["export"], key + ".export");
        if (!m.export_to.empty()) yaml::with_key(key + ".export", [&] { return ListenEndpoint::parse(m.export_to); });
    }
    if (n["export_domain"])
        m.export_domain =
            static_cast<std::uint32_t>(yaml::unsigned_value(n["export_domain"], key + ".export_domain", 0xffffffffu));
}

void write_collector_config(YAML::Emitter& out, const CollectorConfig& c) {
    out << YAML::BeginMap;
    out << YAML::Key << "listen" << YAML::Value << YAML::BeginSeq;
    for (const auto& l : c.listen) out << l.to_string();
    out << YAML::EndSeq;
    out << YAML::Key << "socket_receive_buffer" << YAML::Value << c.socket_receive_buffer;
    out << YAML::Key << "max_streams" << YAML::Value << c.max_streams;
    out << YAML::Key << "max_streams_per_exporter" << YAML::Value << c.max_streams_per_exporter;
    out << YAML::Key << "max_interfaces" << YAML::Value << c.max_interfaces;
    out << YAML::Key << "receive_threads" << YAML::Value << c.receive_threads;
    out << YAML::Key << "recv_batch" << YAML::Value << c.recv_batch;
    out << YAML::Key << "max_datagram" << YAML::Value << c.max_datagram;
    out << YAML::Key << "receive_coalesce" << YAML::Value << fmt::format("{}us", c.receive_coalesce_ns / 1000);
    out << YAML::Key << "state_file" << YAML::Value << c.state_file;
    out << YAML::Key << "templates" << YAML::Value << YAML::BeginMap << YAML::Key << "max_templates" << YAML::Value
        << c.templates.max_templates << YAML::Key << "max_bytes" << YAML::Value << c.templates.max_bytes << YAML::Key
        << "max_templates_per_exporter" << YAML::Value << c.templates.max_templates_per_exporter << YAML::Key
        << "max_fields_per_template" << YAML::Value << c.templates.max_fields_per_template << YAML::EndMap;
    out << YAML::Key << "pending_data" << YAML::Value << YAML::BeginMap << YAML::Key << "max_age" << YAML::Value
        << fmt::format("{}ms", c.pending.max_age_ns / 1'000'000) << YAML::Key << "max_bytes" << YAML::Value
        << c.pending.max_bytes << YAML::Key << "max_sets_per_template" << YAML::Value << c.pending.max_sets_per_template
        << YAML::EndMap;
    out << YAML::Key << "exporters" << YAML::Value << YAML::BeginSeq;
    for (const auto& e : c.exporters)
        out << YAML::BeginMap << YAML::Key << "address" << YAML::Value << e.address.to_string() << YAML::Key
            << "sampling_rate" << YAML::Value << e.sampling_rate << YAML::EndMap;
    out << YAML::EndSeq << YAML::EndMap;
}

void write_meter_config(YAML::Emitter& out, const MeterConfig& m) {
    auto ms = [](std::uint64_t ns) { return fmt::format("{}ms", ns / 1'000'000); };
    out << YAML::BeginMap << YAML::Key << "interface" << YAML::Value << m.interface << YAML::Key << "bpf_filter"
        << YAML::Value << m.bpf_filter << YAML::Key << "snaplen" << YAML::Value << m.snaplen << YAML::Key
        << "promiscuous" << YAML::Value << m.promiscuous << YAML::Key << "buffer_size" << YAML::Value << m.buffer_size
        << YAML::Key << "capture_threads" << YAML::Value << m.capture_threads << YAML::Key << "active_timeout"
        << YAML::Value << ms(m.active_timeout_ns) << YAML::Key << "idle_timeout" << YAML::Value << ms(m.idle_timeout_ns)
        << YAML::Key << "tcp_end_timeout" << YAML::Value << ms(m.tcp_end_timeout_ns) << YAML::Key << "max_flows"
        << YAML::Value << m.max_flows << YAML::Key << "max_fragments" << YAML::Value << m.max_fragments << YAML::Key
        << "dns" << YAML::Value << m.dns << YAML::Key << "export" << YAML::Value << m.export_to << YAML::Key
        << "export_domain" << YAML::Value << m.export_domain << YAML::EndMap;
}

}  // namespace flowguard
