#pragma once
// The detectors of one shard as one pipeline stage: the passive-DNS context they share, and the detectors
// (IOC, SUNBURST, DGA, beacon, DNS beacon), each behind the Detector interface. Per batch: the context takes
// the DNS events first, then every detector sees the batch; the alerts they raise leave in the order a
// record-by-record pass would have raised them. A lateral-movement view (host graph) needs the whole network
// and is not a per-shard detector (docs/ARCHITECTURE.md).
#include <flowguard/analyzer/config.hpp>
#include <flowguard/analyzer/detector.hpp>
#include <flowguard/analyzer/ioc.hpp>
#include <flowguard/analyzer/lists.hpp>
#include <flowguard/analyzer/passive_dns.hpp>
#include <flowguard/analyzer/registered_domain.hpp>
#include <flowguard/core/counters.hpp>
#include <flowguard/core/metric_samples.hpp>
#include <flowguard/core/stage.hpp>

#include <memory>
#include <mutex>
#include <vector>

namespace flowguard::analyzer {

struct AnalyzerStats {
    std::uint64_t flows = 0;
    std::uint64_t dns_events = 0;
    std::uint64_t alerts = 0;
    std::uint64_t pairs = 0;  // beacon series tracked now
    std::uint64_t pair_evictions = 0;
    std::uint64_t suppressed_popular = 0;  // periodic, but many clients do it: a service, not C2
    std::uint64_t resolvers_learned = 0;
    std::uint64_t dns_entries = 0;        // passive DNS's (client, address) and (client, domain) states now
    std::uint64_t domains_untracked = 0;  // names of new registered domains while the table held only live ones
    std::uint64_t domains_forgotten = 0;  // idle registered domains forgotten at max_domains
    std::uint64_t domains = 0;            // registered domains held now
};

// `analyze`'s summary and the analyzer metrics.
inline constexpr CounterTable<AnalyzerStats, 11> kAnalyzerStats{{
    {"flows", counter_ref<&AnalyzerStats::flows>, Merge::sum, "flowguard_analyzer_flows_total", MetricType::counter,
     "Flow records the detectors examined."},
    {"dns_events", counter_ref<&AnalyzerStats::dns_events>, Merge::sum, "flowguard_analyzer_dns_events_total",
     MetricType::counter, "DNS events the detectors examined."},
    {"", counter_ref<&AnalyzerStats::alerts>},
    {"series", counter_ref<&AnalyzerStats::pairs>, Merge::sum, "flowguard_analyzer_series", MetricType::gauge,
     "Beacon series (client, target) tracked now."},
    {"series_evictions", counter_ref<&AnalyzerStats::pair_evictions>, Merge::sum,
     "flowguard_analyzer_series_evictions_total", MetricType::counter, "Beacon series evicted at the cap."},
    {"suppressed_popular", counter_ref<&AnalyzerStats::suppressed_popular>},
    {"resolvers_learned", counter_ref<&AnalyzerStats::resolvers_learned>},
    {"", counter_ref<&AnalyzerStats::dns_entries>, Merge::sum, "flowguard_passive_dns_entries", MetricType::gauge,
     "Passive DNS states held: (client, address) -> name and (client, domain) query names."},
    {"", counter_ref<&AnalyzerStats::domains_untracked>, Merge::sum, "flowguard_passive_dns_untracked_total",
     MetricType::counter,
     "DNS names of new registered domains not tracked: the domain table was full of domains named within "
     "analyzer.name_ttl_cap."},
    {"", counter_ref<&AnalyzerStats::domains_forgotten>, Merge::sum, "flowguard_passive_dns_domains_forgotten_total",
     MetricType::counter, "Registered domains idle longer than analyzer.name_ttl_cap forgotten to make room."},
    {"", counter_ref<&AnalyzerStats::domains>, Merge::sum, "flowguard_passive_dns_domains", MetricType::gauge,
     "Registered domains the passive-DNS context holds."},
}};
static_assert(sizeof(AnalyzerStats) == sizeof(std::uint64_t) * kAnalyzerStats.size());

class Analyzer final : public Stage {
public:
    // `updates` (may be null): the lists SIGHUP replaces; checked once per batch.
    Analyzer(const AnalyzerConfig& config, const NetworkSet& internal, PublicSuffixList suffixes, IocList iocs,
             const ListUpdates* updates = nullptr);

    void on_dns(std::span<const DnsEvent> events, std::uint64_t now_ns, Alerts& alerts) override;
    void on_flows(std::span<const FlowRecord> records, std::uint64_t now_ns, Alerts& alerts) override;
    void finish(Alerts& alerts) override;
    void publish() override;
    bool wants_dns() const override { return true; }

    // One record at a time (tests, tools): a batch of one.
    void on_flow(const FlowRecord& flow, std::vector<Alert>& alerts) { on_flows({&flow, 1}, 0, alerts); }
    void on_dns(const DnsEvent& event, std::vector<Alert>& alerts) { on_dns({&event, 1}, 0, alerts); }
    // SIGHUP without a shared ListUpdates: indicators and beacon allow-lists.
    void reload(const AnalyzerLists& lists);

    AnalyzerStats stats() const;
    const std::vector<std::unique_ptr<Detector>>& detectors() const noexcept { return detectors_; }

    // As of the last publish(): safe from any thread. Shards' copies add up in a SummedMetrics.
    void write_published_metrics(MetricSink& sink) const;
    static void append_metric_specs(std::vector<MetricSpec>& catalog);

private:
    void check_lists();

    PassiveDns context_;
    std::vector<std::unique_ptr<Detector>> detectors_;
    const ListUpdates* updates_;
    std::uint64_t lists_generation_ = 0;
    AlertOut out_;
    std::vector<DnsNote> notes_;
    std::uint64_t flows_ = 0;
    std::uint64_t dns_events_ = 0;
    mutable std::mutex published_mutex_;
    MetricSamples published_;
};

}  // namespace flowguard::analyzer
