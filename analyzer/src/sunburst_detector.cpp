#include <flowguard/analyzer/sunburst_detector.hpp>
#include <flowguard/core/time_format.hpp>

#include <fmt/format.h>

namespace flowguard::analyzer {

void SunburstDetector::on_dns(const DnsBatchView& batch, AlertOut& out) {
    for (std::uint32_t i = 0; i < batch.events.size(); ++i) {
        const DnsEvent& event = batch.events[i];
        const DnsNote& note = batch.notes[i];
        if (note.skip || !is_avsvmcloud_name(note.name)) continue;
        const auto message = decode_sunburst_name(note.name);
        if (message.kind == SunburstKind::invalid) {  // the IOC alert on avsvmcloud.com already covers it
            ++counters_.names_invalid;
            continue;
        }
        ++counters_.names_decoded;
        domains_.add(message);
        const std::string guid = guid_hex(message.guid);
        Alert alert;
        alert.kind = "sunburst_dns";
        alert.severity = Severity::critical;
        alert.score = 1.0;
        alert.src_addr = event.client;
        alert.dst_addr = event.server;
        alert.domain = "avsvmcloud.com";
        alert.first_seen_ns = alert.last_seen_ns = event.time_ns;
        alert.techniques = {"T1195.002", "T1071.004", "T1568.002"};
        alert.evidence["name"] = note.name;
        alert.evidence["message"] = std::string(to_string(message.kind));
        alert.evidence["guid"] = guid;
        if (auto victim = domains_.domain(message.guid)) alert.evidence["victim_domain"] = *victim;
        if (message.kind != SunburstKind::domain_fragment) {
            alert.evidence["timestamp"] =
                format_iso8601_ns(static_cast<std::uint64_t>(message.timestamp) * 1'000'000'000ull);
            alert.evidence["stage2"] = message.stage2;
        }
        alert.evidence["note"] = "SolarWinds Orion SUNBURST backdoor beacon: treat the client as compromised";
        alert.dedup_key = fmt::format("sunburst:{}:{}", event.client.to_string(), guid);
        if (message.stage2) alert.dedup_key += ":stage2";  // the operators chose this victim: reported on its own
        for (std::size_t c = 0; c < event.cname_count; ++c) {
            alert.evidence["cname"] = std::string(event.cnames[c].view());  // the stage-2 C2 domain handed out
            alert.dedup_key += ":cname";
        }
        out.raise(std::move(alert), i);
    }
}

}  // namespace flowguard::analyzer
