#include <flowguard/analyzer/config.hpp>
#include <flowguard/core/ip_address.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace flowguard {

void read_analyzer_config(const YAML::Node& n, AnalyzerConfig& a) {
    const std::string key = "analyzer";
    yaml::require_known_keys(n, key,
                             {"beacon", "dga", "lateral", "ioc_files", "resolvers", "public_suffix_list",
                              "name_ttl_cap", "max_resolved", "max_domains"});
    if (const auto& b = n["beacon"]) analyzer::read_beacon_config(b, key + ".beacon", a.beacon);
    if (const auto& d = n["dga"]) analyzer::read_dga_config(d, key + ".dga", a.dga);
    if (const auto& l = n["lateral"]) analyzer::read_lateral_config(l, key + ".lateral", a.lateral);
    if (n["ioc_files"]) a.ioc_files = yaml::string_list(n["ioc_files"], key + ".ioc_files");
    if (n["resolvers"]) {
        a.resolvers = yaml::string_list(n["resolvers"], key + ".resolvers");
        for (std::size_t i = 0; i < a.resolvers.size(); ++i) {
            if (!IpAddress::parse(a.resolvers[i]))
                throw ConfigError(fmt::format("{}.resolvers[{}]", key, i),
                                  fmt::format("'{}' is not an IP address", a.resolvers[i]));
        }
    }
    if (n["public_suffix_list"])
        a.public_suffix_list = yaml::scalar(n["public_suffix_list"], key + ".public_suffix_list");
    if (n["name_ttl_cap"]) a.name_ttl_cap_ns = yaml::duration_value(n["name_ttl_cap"], key + ".name_ttl_cap");
    if (a.name_ttl_cap_ns < 60ull * 1'000'000'000)
        throw ConfigError(key + ".name_ttl_cap", "must be at least 60s (a name must outlive its answer's flows)");
    if (n["max_resolved"]) a.max_resolved = yaml::unsigned_value(n["max_resolved"], key + ".max_resolved", 1u << 28);
    if (n["max_domains"]) a.max_domains = yaml::unsigned_value(n["max_domains"], key + ".max_domains", 1u << 26);
    if (a.max_resolved < 16) throw ConfigError(key + ".max_resolved", "must be at least 16");
    if (a.max_domains < 16) throw ConfigError(key + ".max_domains", "must be at least 16");
}

void write_analyzer_config(YAML::Emitter& out, const AnalyzerConfig& a) {
    out << YAML::BeginMap << YAML::Key << "beacon" << YAML::Value;
    analyzer::write_beacon_config(out, a.beacon);
    out << YAML::Key << "dga" << YAML::Value;
    analyzer::write_dga_config(out, a.dga);
    out << YAML::Key << "lateral" << YAML::Value;
    analyzer::write_lateral_config(out, a.lateral);
    out << YAML::Key << "ioc_files" << YAML::Value << YAML::Flow << a.ioc_files << YAML::Key << "resolvers"
        << YAML::Value << YAML::Flow << a.resolvers << YAML::Key << "public_suffix_list" << YAML::Value
        << a.public_suffix_list << YAML::Key << "name_ttl_cap" << YAML::Value << yaml::seconds(a.name_ttl_cap_ns)
        << YAML::Key << "max_resolved" << YAML::Value << a.max_resolved << YAML::Key << "max_domains" << YAML::Value
        << a.max_domains << YAML::EndMap;
}

AnalyzerConfig share_per_shard(const AnalyzerConfig& config, std::size_t shards) {
    AnalyzerConfig share = config;
    shards = std::max<std::size_t>(shards, 1);
    share.beacon.max_series = std::max<std::size_t>(config.beacon.max_series / shards, 1);
    share.beacon.max_connections = std::max<std::size_t>(config.beacon.max_connections / shards, 1);
    share.max_resolved = std::max<std::size_t>(config.max_resolved / shards, 1);
    share.max_domains = std::max<std::size_t>(config.max_domains / shards, 1);
    return share;
}

namespace analyzer {

PassiveDnsConfig passive_dns_config(const AnalyzerConfig& c) {
    return {c.resolvers, c.beacon.allow_domains, c.name_ttl_cap_ns, c.max_resolved, c.beacon.max_series, c.max_domains};
}

}  // namespace analyzer
}  // namespace flowguard
