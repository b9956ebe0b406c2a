#pragma once
#include <string>
#include <unordered_map>
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
    // One match: who, with which peer (the C2 address: a flow's peer, a DNS answer's address; empty for a
    // query without answers), where it was seen.
    struct Sighting {
        IpAddress client;
        IpAddress peer;
        IpAddress resolver;      // DNS: the server asked
        std::string matched;     // what matched the indicator (an address, a query name, a CNAME target)
        std::string query_name;  // DNS: the name the client asked
        std::uint64_t time_ns = 0;
        std::string_view where;  // flow, query, cname, answer
        const FlowRecord* flow = nullptr;
    };
    void raise(const Sighting& sighting, const IocMatch& match, std::uint32_t index, AlertOut& out);

    IocList iocs_;
    IocCounters counters_;
    // Domain findings (dedup key) and whether their C2 address was reported: a finding opened by a query seen
    // before its answer is updated by the first answer naming an address. Bounded: cleared when full.
    std::unordered_map<std::string, bool> address_known_;
};

}  // namespace flowguard::analyzer
