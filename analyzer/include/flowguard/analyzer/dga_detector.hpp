#pragma once
// Generated domains (T1568.002): a client asking many distinct subdomains of one registered domain whose
// labels look random (lexical.hpp: entropy, letter-pair likelihood, digits, consonant runs). Decided once per
// (client, domain) when it has dga.min_unique_names names; random-looking names that many clients resolve are a
// CDN's or a cloud service's scheme (popular: suppressed).
#include <flowguard/analyzer/detector.hpp>
#include <flowguard/core/config.hpp>

#include <boost/unordered/unordered_flat_map.hpp>
#include <yaml-cpp/yaml.h>

#include <string>

namespace flowguard::analyzer {

// `analyzer.dga:`.
struct DgaConfig {
    std::size_t min_unique_names = 12;  // distinct subdomains one client asks of one registered domain
    double threshold = 0.5;             // mean lexical score of those subdomains
    std::size_t max_clients = 3;        // random-looking names many clients resolve: a CDN, not a DGA
};

void read_dga_config(const YAML::Node& node, const std::string& key, DgaConfig& out);  // throws ConfigError
void write_dga_config(YAML::Emitter& out, const DgaConfig& d);

struct DgaCounters {
    std::uint64_t names_scored = 0;  // distinct subdomains given a lexical score
};

inline constexpr CounterTable<DgaCounters, 1> kDgaCounters{{
    {"", counter_ref<&DgaCounters::names_scored>, Merge::sum, "flowguard_dga_names_scored_total", MetricType::counter,
     "Distinct subdomains the DGA detector scored lexically."},
}};

class DgaDetector final : public Detector {
public:
    explicit DgaDetector(const DgaConfig& config) : config_(config) {}
    std::string_view name() const override { return "dga"; }
    void on_dns(const DnsBatchView& batch, AlertOut& out) override;
    DetectorStats stats() const override { return {0, 0, suppressed_popular_}; }
    void write_metrics(MetricSink& sink) const override { flowguard::write_metrics(sink, counters_, kDgaCounters); }

private:
    struct State {
        double lexical_sum = 0;
        bool decided = false;
        bool reported = false;           // decided and reported: later names say the finding goes on
        std::uint64_t continued_ns = 0;  // when it was last said to go on (at most once a minute of event time)
    };

    DgaConfig config_;
    // Keyed like the context's query names, and forgotten with them (DnsNote::names_reset): the same bound.
    boost::unordered_flat_map<ClientDomain, State, ClientDomainHash> states_;
    std::uint64_t suppressed_popular_ = 0;
    DgaCounters counters_;
};

}  // namespace flowguard::analyzer
