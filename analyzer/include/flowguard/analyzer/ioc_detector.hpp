#pragma once
// Known indicators (T1071): flows to or from a listed address, DNS queries, CNAME chains and answers naming a
// listed domain or address. The list is the shipped SUNBURST indicators plus analyzer.ioc_files, replaced on
// SIGHUP. One alert per (client, indicator).
#include <flowguard/analyzer/detector.hpp>
#include <flowguard/analyzer/ioc.hpp>

namespace flowguard::analyzer {

struct IocCounters {
    std::uint64_t flow_matches = 0;  // flows with a listed address
    std::uint64_t dns_matches = 0;   // DNS names, CNAMEs and answers on a list
};

inline constexpr CounterTable<IocCounters, 2> kIocCounters{{
    {"", counter_ref<&IocCounters::flow_matches>, Merge::sum, "flowguard_ioc_matches_total", MetricType::counter,
     "Indicator matches, by where they were seen (before alerts are deduplicated).", 1, "flow"},
    {"", counter_ref<&IocCounters::dns_matches>, Merge::sum, "flowguard_ioc_matches_total", MetricType::counter,
     "Indicator matches, by where they were seen (before alerts are deduplicated).", 1, "dns"},
}};

class IocDetector final : public Detector {
public:
    explicit IocDetector(IocList iocs) : iocs_(std::move(iocs)) {}
    std::string_view name() const override { return "ioc"; }
    void on_dns(const DnsBatchView& batch, AlertOut& out) override;
    void on_flows(const FlowBatchView& batch, AlertOut& out) override;
    void reload(const AnalyzerLists& lists) override;
    void write_metrics(MetricSink& sink) const override { flowguard::write_metrics(sink, counters_, kIocCounters); }

private:
    void raise(const IpAddress& client, const IpAddress& peer, const std::string& what, const IocMatch& match,
               std::uint64_t time_ns, std::string_view where, std::uint32_t index, AlertOut& out);

    IocList iocs_;
    IocCounters counters_;
};

}  // namespace flowguard::analyzer
