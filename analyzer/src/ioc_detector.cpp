#include <flowguard/analyzer/ioc_detector.hpp>
#include <flowguard/analyzer/lists.hpp>

#include <fmt/format.h>

namespace flowguard::analyzer {
namespace {

constexpr std::size_t kMaxDomainFindings = 65536;

}  // namespace

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
                raise({host, *address, {}, address->to_string(), {}, flow.time_flow_start_ns, "flow", &flow}, *match, i,
                      out);
            }
        }
    }
}

void IocDetector::on_dns(const DnsBatchView& batch, AlertOut& out) {
    for (std::uint32_t i = 0; i < batch.events.size(); ++i) {
        const DnsEvent& event = batch.events[i];
        const DnsNote& note = batch.notes[i];
        if (note.skip) continue;
        // The C2 address the client is about to reach: the answer's first address (none in a query).
        const IpAddress c2 = event.address_count ? event.addresses[0] : IpAddress{};
        if (auto match = iocs_.match_name(note.name)) {
            ++counters_.dns_matches;
            raise({event.client, c2, event.server, note.name, note.name, event.time_ns, "query"}, *match, i, out);
        }
        for (std::size_t c = 0; c < event.cname_count; ++c) {
            if (auto match = iocs_.match_name(event.cnames[c].view())) {
                ++counters_.dns_matches;
                raise({event.client, c2, event.server, lower_name(event.cnames[c].view()), note.name, event.time_ns,
                       "cname"},
                      *match, i, out);
            }
        }
        for (std::size_t a = 0; a < event.address_count; ++a) {
            if (auto match = iocs_.match_address(event.addresses[a])) {
                ++counters_.dns_matches;
                raise({event.client, event.addresses[a], event.server, event.addresses[a].to_string(), note.name,
                       event.time_ns, "answer"},
                      *match, i, out);
            }
        }
    }
}

void IocDetector::raise(const Sighting& s, const IocMatch& match, std::uint32_t index, AlertOut& out) {
    const bool address = s.where == "flow" || s.where == "answer";
    Alert alert;
    alert.kind = address ? "ioc_address" : "ioc_domain";
    alert.severity = Severity::high;
    alert.score = 0.9;
    alert.src_addr = s.client;
    alert.dst_addr = s.peer;
    if (!address) alert.domain = match.indicator;
    alert.query_name = s.query_name;
    alert.first_seen_ns = alert.last_seen_ns = s.time_ns;
    alert.techniques = {"T1071"};
    if (match.source == "sunburst") alert.techniques.push_back("T1195.002");
    alert.evidence["indicator"] = match.indicator;
    alert.evidence["list"] = match.source;
    alert.evidence["matched"] = s.matched;
    alert.evidence["seen_in"] = std::string(s.where);
    if (!s.resolver.empty()) alert.evidence["resolver"] = s.resolver.to_string();
    if (s.flow != nullptr) {
        const bool outbound = s.peer == s.flow->dst_addr;
        alert.src_port = outbound ? s.flow->src_port : s.flow->dst_port;
        alert.dst_port = outbound ? s.flow->dst_port : s.flow->src_port;
        alert.proto = s.flow->proto;
        alert.exporter = s.flow->sampler_address;
        alert.input_interface = s.flow->in_if;
    }
    if (address && match.source == "sunburst") {
        alert.evidence["note"] = "address published for SUNBURST C2 in 2020; cloud addresses may have been reassigned";
        alert.severity = Severity::medium;
    }
    alert.dedup_key = fmt::format("ioc:{}:{}", s.client.to_string(), match.indicator);
    if (address) {
        out.raise(std::move(alert), index);
        return;
    }
    // A domain finding opened by a bare query learns its C2 address from the first answer: an update.
    if (address_known_.size() >= kMaxDomainFindings) address_known_.clear();
    const auto [known, first] = address_known_.try_emplace(alert.dedup_key, !s.peer.empty());
    if (!first && !known->second && !s.peer.empty()) {
        known->second = true;
        out.update(std::move(alert), index);
        return;
    }
    out.raise(std::move(alert), index);
}

}  // namespace flowguard::analyzer
