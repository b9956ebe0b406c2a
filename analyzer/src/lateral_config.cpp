#include <flowguard/analyzer/lateral_config.hpp>
#include <flowguard/core/ip_address.hpp>

#include <fmt/format.h>

#include <charconv>

namespace flowguard::analyzer {
namespace {

constexpr std::pair<ServiceClass, std::string_view> kClassNames[] = {
    {ServiceClass::remote_admin, "remote_admin"},
    {ServiceClass::file, "file"},
    {ServiceClass::directory, "directory"},
    {ServiceClass::data, "data"},
};

AdminService service(std::string name, std::vector<PortRange> ports, ServiceClass c,
                     std::vector<std::string> techniques) {
    return {std::move(name), std::move(ports), c, std::move(techniques)};
}

std::uint16_t port_number(std::string_view text, const std::string& key) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value == 0 || value > 65535)
        throw ConfigError(key, fmt::format("'{}' is not a port (1-65535)", text));
    return static_cast<std::uint16_t>(value);
}

// "tcp/3389", "udp/88", "tcp/5900-5903".
PortRange parse_port_range(std::string_view text, const std::string& key) {
    PortRange range;
    const auto slash = text.find('/');
    const auto proto = slash == std::string_view::npos ? std::string_view{} : text.substr(0, slash);
    if (proto == "tcp")
        range.proto = 6;
    else if (proto == "udp")
        range.proto = 17;
    else
        throw ConfigError(key, fmt::format("'{}': write tcp/PORT, udp/PORT or tcp/FIRST-LAST", text));
    const auto ports = text.substr(slash + 1);
    const auto dash = ports.find('-');
    range.first = port_number(ports.substr(0, dash), key);
    range.last = dash == std::string_view::npos ? range.first : port_number(ports.substr(dash + 1), key);
    if (range.last < range.first) throw ConfigError(key, fmt::format("'{}': the range runs backwards", text));
    return range;
}

ServiceClass parse_class(const std::string& text, const std::string& key) {
    for (const auto& [c, name] : kClassNames)
        if (name == text) return c;
    throw ConfigError(key, fmt::format("'{}': one of remote_admin, file, directory, data", text));
}

std::vector<AdminService> read_services(const YAML::Node& list, const std::string& key) {
    if (!list.IsSequence()) throw ConfigError(key, "expected a list of services");
    std::vector<AdminService> out;
    for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string k = fmt::format("{}[{}]", key, i);
        const YAML::Node& n = list[i];
        yaml::require_known_keys(n, k, {"name", "ports", "class", "techniques"});
        AdminService s;
        if (!n["name"]) throw ConfigError(k + ".name", "every service needs a name");
        s.name = yaml::scalar(n["name"], k + ".name");
        if (!n["ports"]) throw ConfigError(k + ".ports", "every service needs ports");
        for (const auto& text : yaml::string_list(n["ports"], k + ".ports"))
            s.ports.push_back(parse_port_range(text, k + ".ports"));
        if (s.ports.empty()) throw ConfigError(k + ".ports", "every service needs ports");
        if (n["class"]) s.service_class = parse_class(yaml::scalar(n["class"], k + ".class"), k + ".class");
        if (n["techniques"]) s.techniques = yaml::string_list(n["techniques"], k + ".techniques");
        for (const auto& other : out)
            if (other.name == s.name) throw ConfigError(k + ".name", fmt::format("'{}' is listed twice", s.name));
        out.push_back(std::move(s));
    }
    if (out.size() > 31) throw ConfigError(key, "at most 31 services");  // a host's services are a bit mask
    return out;
}

std::vector<AssetGroup> read_groups(const YAML::Node& map, const std::string& key) {
    if (!map.IsMap()) throw ConfigError(key, "expected a map of group name -> list of CIDRs or addresses");
    std::vector<AssetGroup> out;
    for (const auto& entry : map) {
        AssetGroup g;
        g.name = entry.first.as<std::string>();
        const std::string k = yaml::child_key(key, g.name);
        g.members = yaml::string_list(entry.second, k);
        for (std::size_t i = 0; i < g.members.size(); ++i)
            yaml::with_key(fmt::format("{}[{}]", k, i), [&] { g.networks.add(g.members[i]); });
        out.push_back(std::move(g));
    }
    if (out.size() > 1000) throw ConfigError(key, "at most 1000 groups");
    return out;
}

void check_watched(const std::vector<std::string>& watched, const std::vector<AssetGroup>& groups,
                   const std::string& key) {
    for (std::size_t i = 0; i < watched.size(); ++i) {
        bool is_group = false;
        for (const auto& g : groups) is_group = is_group || g.name == watched[i];
        if (is_group) continue;
        NetworkSet probe;
        yaml::with_key(fmt::format("{}[{}]", key, i), [&] {
            try {
                probe.add(watched[i]);
            } catch (const ConfigError&) {
                throw ConfigError("", fmt::format("'{}' is neither an address, a CIDR nor a group", watched[i]));
            }
        });
    }
}

}  // namespace

std::vector<AdminService> default_admin_services() {
    using C = ServiceClass;
    return {
        service("smb", {{6, 445, 445}, {6, 139, 139}}, C::file, {"T1021.002", "T1570"}),
        service("rdp", {{6, 3389, 3389}, {17, 3389, 3389}}, C::remote_admin, {"T1021.001"}),
        service("winrm", {{6, 5985, 5986}}, C::remote_admin, {"T1021.006"}),
        service("rpc", {{6, 135, 135}}, C::remote_admin, {"T1047", "T1021.003"}),
        service("ssh", {{6, 22, 22}}, C::remote_admin, {"T1021.004"}),
        service("telnet", {{6, 23, 23}}, C::remote_admin, {"T1021"}),
        service("vnc", {{6, 5900, 5903}}, C::remote_admin, {"T1021.005"}),
        service("ldap", {{6, 389, 389}, {17, 389, 389}, {6, 636, 636}, {6, 3268, 3269}}, C::directory, {"T1018"}),
        service("kerberos", {{6, 88, 88}, {17, 88, 88}}, C::directory, {"T1558"}),
        service("mssql", {{6, 1433, 1433}}, C::data, {"T1021"}),
    };
}

std::string port_range_text(const PortRange& r) {
    const char* proto = r.proto == 6 ? "tcp" : "udp";
    return r.first == r.last ? fmt::format("{}/{}", proto, r.first) : fmt::format("{}/{}-{}", proto, r.first, r.last);
}

std::string_view service_class_name(ServiceClass c) noexcept {
    for (const auto& [value, name] : kClassNames)
        if (value == c) return name;
    return "remote_admin";
}

void read_lateral_config(const YAML::Node& n, const std::string& key, LateralConfig& c) {
    yaml::require_known_keys(n, key,
                             {"enabled",
                              "services",
                              "rpc_dynamic_low",
                              "rpc_follow",
                              "groups",
                              "watched_hosts",
                              "learning_period",
                              "edge_ttl",
                              "max_edges",
                              "max_hosts",
                              "new_edge_min_score",
                              "new_edge_high_score",
                              "fanout_window",
                              "fanout_min_hosts",
                              "fanout_baseline_factor",
                              "chain_window",
                              "dcsync_min_bytes",
                              "directory_min_flows",
                              "directory_min_bytes",
                              "directory_factor",
                              "hold",
                              "incident",
                              "state_file",
                              "save_interval"});
    const auto k = [&](std::string_view name) { return yaml::child_key(key, name); };
    if (n["enabled"]) c.enabled = yaml::boolean_value(n["enabled"], k("enabled"));
    if (n["services"]) c.services = read_services(n["services"], k("services"));
    if (n["rpc_dynamic_low"])
        c.rpc_dynamic_low = port_number(yaml::scalar(n["rpc_dynamic_low"], k("rpc_dynamic_low")), k("rpc_dynamic_low"));
    if (n["rpc_follow"]) c.rpc_follow_ns = yaml::duration_value(n["rpc_follow"], k("rpc_follow"));
    if (n["groups"]) c.groups = read_groups(n["groups"], k("groups"));
    if (n["watched_hosts"]) c.watched_hosts = yaml::string_list(n["watched_hosts"], k("watched_hosts"));
    check_watched(c.watched_hosts, c.groups, k("watched_hosts"));
    if (n["learning_period"]) c.learning_ns = yaml::duration_value(n["learning_period"], k("learning_period"));
    if (n["edge_ttl"]) c.edge_ttl_ns = yaml::duration_value(n["edge_ttl"], k("edge_ttl"));
    if (n["max_edges"]) c.max_edges = yaml::unsigned_value(n["max_edges"], k("max_edges"), 1u << 28);
    if (n["max_hosts"]) c.max_hosts = yaml::unsigned_value(n["max_hosts"], k("max_hosts"), 1u << 24);
    if (n["new_edge_min_score"])
        c.new_edge_min_score = yaml::unit_value(n["new_edge_min_score"], k("new_edge_min_score"));
    if (n["new_edge_high_score"])
        c.new_edge_high_score = yaml::unit_value(n["new_edge_high_score"], k("new_edge_high_score"));
    if (n["fanout_window"]) c.fanout_window_ns = yaml::duration_value(n["fanout_window"], k("fanout_window"));
    if (n["fanout_min_hosts"])
        c.fanout_min_hosts = yaml::unsigned_value(n["fanout_min_hosts"], k("fanout_min_hosts"), 1u << 16);
    if (n["fanout_baseline_factor"])
        c.fanout_baseline_factor =
            static_cast<double>(yaml::unsigned_value(n["fanout_baseline_factor"], k("fanout_baseline_factor"), 1000));
    if (n["chain_window"]) c.chain_window_ns = yaml::duration_value(n["chain_window"], k("chain_window"));
    if (n["dcsync_min_bytes"]) c.dcsync_min_bytes = yaml::size_value(n["dcsync_min_bytes"], k("dcsync_min_bytes"));
    if (n["directory_min_flows"])
        c.directory_min_flows = yaml::unsigned_value(n["directory_min_flows"], k("directory_min_flows"), 1u << 30);
    if (n["directory_min_bytes"])
        c.directory_min_bytes = yaml::size_value(n["directory_min_bytes"], k("directory_min_bytes"));
    if (n["directory_factor"])
        c.directory_factor =
            static_cast<double>(yaml::unsigned_value(n["directory_factor"], k("directory_factor"), 1000));
    if (n["hold"]) c.hold_ns = yaml::duration_value(n["hold"], k("hold"));
    if (n["incident"]) c.incident_ns = yaml::duration_value(n["incident"], k("incident"));
    if (n["state_file"]) c.state_file = yaml::scalar(n["state_file"], k("state_file"));
    if (n["save_interval"]) c.save_interval_ns = yaml::duration_value(n["save_interval"], k("save_interval"));
    if (c.new_edge_high_score < c.new_edge_min_score)
        throw ConfigError(k("new_edge_high_score"), "must not be below new_edge_min_score");
    if (c.rpc_dynamic_low < 1024) throw ConfigError(k("rpc_dynamic_low"), "must be at least 1024");
}

void write_lateral_config(YAML::Emitter& out, const LateralConfig& c) {
    out << YAML::BeginMap << YAML::Key << "enabled" << YAML::Value << c.enabled;
    out << YAML::Key << "services" << YAML::Value << YAML::BeginSeq;
    for (const auto& s : c.services) {
        std::vector<std::string> ports;
        for (const auto& r : s.ports) ports.push_back(port_range_text(r));
        out << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << s.name << YAML::Key << "ports"
            << YAML::Value << ports << YAML::Key << "class" << YAML::Value
            << std::string(service_class_name(s.service_class)) << YAML::Key << "techniques" << YAML::Value
            << s.techniques << YAML::EndMap;
    }
    out << YAML::EndSeq;
    out << YAML::Key << "rpc_dynamic_low" << YAML::Value << c.rpc_dynamic_low << YAML::Key << "rpc_follow"
        << YAML::Value << yaml::seconds(c.rpc_follow_ns);
    out << YAML::Key << "groups" << YAML::Value << YAML::BeginMap;
    for (const auto& g : c.groups) out << YAML::Key << g.name << YAML::Value << YAML::Flow << g.members;
    out << YAML::EndMap;
    out << YAML::Key << "watched_hosts" << YAML::Value << YAML::Flow << c.watched_hosts;
    out << YAML::Key << "learning_period" << YAML::Value << yaml::seconds(c.learning_ns) << YAML::Key << "edge_ttl"
        << YAML::Value << yaml::seconds(c.edge_ttl_ns) << YAML::Key << "max_edges" << YAML::Value << c.max_edges
        << YAML::Key << "max_hosts" << YAML::Value << c.max_hosts << YAML::Key << "new_edge_min_score" << YAML::Value
        << c.new_edge_min_score << YAML::Key << "new_edge_high_score" << YAML::Value << c.new_edge_high_score
        << YAML::Key << "fanout_window" << YAML::Value << yaml::seconds(c.fanout_window_ns) << YAML::Key
        << "fanout_min_hosts" << YAML::Value << c.fanout_min_hosts << YAML::Key << "fanout_baseline_factor"
        << YAML::Value << c.fanout_baseline_factor << YAML::Key << "chain_window" << YAML::Value
        << yaml::seconds(c.chain_window_ns) << YAML::Key << "dcsync_min_bytes" << YAML::Value << c.dcsync_min_bytes
        << YAML::Key << "directory_min_flows" << YAML::Value << c.directory_min_flows << YAML::Key
        << "directory_min_bytes" << YAML::Value << c.directory_min_bytes << YAML::Key << "directory_factor"
        << YAML::Value << c.directory_factor << YAML::Key << "hold" << YAML::Value << yaml::seconds(c.hold_ns)
        << YAML::Key << "incident" << YAML::Value << yaml::seconds(c.incident_ns) << YAML::Key << "state_file"
        << YAML::Value << c.state_file << YAML::Key << "save_interval" << YAML::Value
        << yaml::seconds(c.save_interval_ns) << YAML::EndMap;
}

}  // namespace flowguard::analyzer
