#include <flowguard/analyzer/ioc_detector.hpp>
#include <flowguard/analyzer/lists.hpp>

#include <fmt/format.h>

namespace flowguard::analyzer {

void IocDetector::reload(const AnalyzerLists& lists) {
    iocs_ = lists.iocs;
}

void IocDetector::on_flows(const FlowBatchView& batch, AlertOut& out) {
    for (std::uint32_t i = 0; i < batch.records.size(); ++i) {
        const FlowRecord& flow = batch.records[i];
        for (const auto* address : {&flow.dst_addr, &flow.src_addr}) {  // returns at once when no address is listed
            if (auto match = iocs_.match_address(*address)) {
                ++counters_.flow_matches;
                const IpAddress& host = address == &flow.dst_addr ? flow.src_addr : flow.dst_addr;
                raise(host, *address, address->to_string(), *match, flow.time_flow_start_ns, "flow", i, out);
            }
        }
    }
}

void IocDetector::on_dns(const DnsBatchView& batch, AlertOut& out) {
    for (std::uint32_t i = 0; i < batch.events.size(); ++i) {
        const DnsEvent& event = batch.events[i];
        const DnsNote& note = batch.notes[i];
        if (note.skip) continue;
        if (auto match = iocs_.match_name(note.name)) {
            ++counters_.dns_matches;
            raise(event.client, event.server, note.name, *match, event.time_ns, "query", i, out);
        }
        for (std::size_t c = 0; c < event.cname_count; ++c) {
            if (auto match = iocs_.match_name(event.cnames[c].view())) {
                ++counters_.dns_matches;
                raise(event.client, event.server, lower_name(event.cnames[c].view()), *match, event.time_ns, "cname", i,
                      out);
            }
        }
        for (std::size_t a = 0; a < event.address_count; ++a) {
            if (auto match = iocs_.match_address(event.addresses[a])) {
                ++counters_.dns_matches;
                raise(event.client, event.addresses[a], note.name, *match, event.time_ns, "answer", i, out);
            }
        }
    }
}

void IocDetector::raise(const IpAddress& client, const IpAddress& peer, const std::string& what, const IocMatch& match,
                        std::uint64_t time_ns, std::string_view where, std::uint32_t index, AlertOut& out) {
    const bool address = where == "flow" || where == "answer";
    Alert alert;
    alert.kind = address ? "ioc_address" : "ioc_domain";
    alert.severity = Severity::high;
    alert.score = 0.9;
    alert.src_addr = client;
    alert.dst_addr = peer;
    if (!address) alert.domain = match.indicator;
    alert.first_seen_ns = alert.last_seen_ns = time_ns;
    alert.techniques = {"T1071"};
    if (match.source == "sunburst") alert.techniques.push_back("T1195.002");
    alert.evidence["indicator"] = match.indicator;
    alert.evidence["list"] = match.source;
    alert.evidence["matched"] = what;
    alert.evidence["seen_in"] = std::string(where);
    if (address && match.source == "sunburst") {
        alert.evidence["note"] = "address published for SUNBURST C2 in 2020; cloud addresses may have been reassigned";
        alert.severity = Severity::medium;
    }
    alert.dedup_key = fmt::format("ioc:{}:{}", client.to_string(), match.indicator);
    out.raise(std::move(alert), index);
}

}  // namespace flowguard::analyzer
