#include <flowguard/analyzer/dns_beacon_detector.hpp>

#include <fmt/format.h>

#include <cmath>

namespace flowguard::analyzer {
namespace {

constexpr std::uint64_t kDnsRepeatNs = 2'000'000'000;  // A+AAAA pairs and retries within this count once

// The subdomains the client asked of the domain, as they stood when the series was scored.
struct NamesSeen {
    double unique = 0;
    std::uint32_t queries = 0;
    std::uint8_t samples = 0;
};

Alert alert_of(const BeaconFinding& f, const PassiveDns& context, const NamesSeen* names) {
    Alert alert = beacon_alert("dns_beacon", f);
    alert.domain = context.domain(f.key.domain);
    alert.techniques = {"T1071.004"};
    if (names != nullptr) {
        alert.evidence["unique_names"] = std::round(names->unique);
        boost::json::array samples;
        if (const auto* seen = context.query_names(f.key.client, f.key.domain))
            for (std::size_t i = 0; i < names->samples && i < seen->sample_count; ++i)
                samples.emplace_back(seen->samples[i].view());
        alert.evidence["sample_names"] = std::move(samples);
        // Fresh names every time: the subdomain carries data or is generated (DGA).
        if (names->unique >= 0.8 * static_cast<double>(names->queries)) alert.techniques.push_back("T1568.002");
    }
    alert.evidence["grouped_by"] = "client and registered domain (every subdomain counts)";
    // The same key as the client's connection series to this domain: one finding (AlertOut merges them).
    alert.dedup_key = fmt::format("beacon:{}:{}", f.key.client.to_string(), alert.domain);
    if (f.continuing) alert.status = AlertStatus::ongoing;
    return alert;
}

// A finding decided earlier (held, or at the end of input): the names as the context holds them now.
Alert alert_now(const BeaconFinding& finding, const PassiveDns& context) {
    const auto* seen = context.query_names(finding.key.client, finding.key.domain);
    const NamesSeen names = seen ? NamesSeen{seen->names.estimate(), seen->queries, seen->sample_count} : NamesSeen{};
    return alert_of(finding, context, seen ? &names : nullptr);
}

}  // namespace

void DnsBeaconDetector::write_metrics(MetricSink& sink) const {
    flowguard::write_metrics(sink, series_.hold_counters(), kHoldCounters, {name()});
    flowguard::write_metrics(sink, RelayQueries{relay_queries_}, kRelayQueries);
}

void DnsBeaconDetector::on_dns(const DnsBatchView& batch, AlertOut& out) {
    for (std::uint32_t i = 0; i < batch.events.size(); ++i) {
        const DnsEvent& event = batch.events[i];
        const DnsNote& note = batch.notes[i];
        if (series_.release_due(event.time_ns))
            for (const auto& f : series_.release(event.time_ns)) out.raise(alert_now(f, batch.context), i);
        if (note.skip || note.domain_id == 0 || event.response || note.allowed) continue;
        if (relays_ != nullptr && relays_->is_relay(event.client)) {
            ++relay_queries_;
            continue;
        }
        const auto finding =
            series_.record({event.client, IpAddress{}, note.domain_id, 0, 0}, event.time_ns, 0, kDnsRepeatNs);
        if (!finding) continue;
        const NamesSeen names{note.unique_names, note.queries, note.samples};
        Alert alert = alert_of(*finding, batch.context, note.names_present ? &names : nullptr);
        alert.query_name = std::string(event.qname.view());
        // dst_addr stays for the C2 address (a merged connection series brings it); the resolver is evidence.
        alert.evidence["resolver"] = event.server.to_string();
        out.raise(std::move(alert), i);
    }
}

void DnsBeaconDetector::finish(const PassiveDns& context, AlertOut& out) {
    for (const auto& finding : series_.finish()) out.raise(alert_now(finding, context), AlertOut::kAtEnd);
}

}  // namespace flowguard::analyzer
