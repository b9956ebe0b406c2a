#pragma once
// The `analyzer:` section: the detectors' own sections (beacon, dga: declared beside each detector) and what
// they share: indicator files, resolvers, the Public Suffix List, name mapping bounds.
#include <flowguard/analyzer/beacon_series.hpp>
#include <flowguard/analyzer/dga_detector.hpp>
#include <flowguard/analyzer/lateral_config.hpp>
#include <flowguard/analyzer/passive_dns.hpp>
#include <flowguard/core/config.hpp>

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

namespace flowguard {

struct AnalyzerConfig {
    analyzer::BeaconConfig beacon;
    analyzer::DgaConfig dga;
    analyzer::LateralConfig lateral;     // the lateral-movement stage (a global view, not per shard)
    std::vector<std::string> ioc_files;  // user indicator lists, added to the shipped SUNBURST list
    std::vector<std::string> resolvers;  // internal resolvers (also learned from the DNS answers they send)
    std::string public_suffix_list = "/usr/share/publicsuffix/public_suffix_list.dat";
    std::uint64_t name_ttl_cap_ns = 3600ull * 1'000'000'000;  // how long an address keeps a resolved name at most
    std::size_t max_resolved = 1u << 20;                      // (client, address) -> name entries kept
    std::size_t max_domains = 1u << 20;                       // registered domains held (idle ones then forgotten)
};

// The caps that hold for the whole process (the detectors' series, the passive-DNS tables), divided between
// `shards` shards: what each shard's analyzer may hold. The lateral stage is one global view, not divided.
AnalyzerConfig share_per_shard(const AnalyzerConfig& config, std::size_t shards);

void read_analyzer_config(const YAML::Node& node, AnalyzerConfig& out);  // throws ConfigError naming the key
void write_analyzer_config(YAML::Emitter& out, const AnalyzerConfig& a);

namespace analyzer {
// The context's share of the section.
PassiveDnsConfig passive_dns_config(const AnalyzerConfig& config);
}  // namespace analyzer

}  // namespace flowguard
