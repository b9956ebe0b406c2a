#include <flowguard/analyzer/sunburst_detector.hpp>
#include <flowguard/core/time_format.hpp>

#include <fmt/format.h>

namespace flowguard::analyzer {
namespace {

constexpr std::size_t kMaxReported = 65536;  // findings remembered for updates; beyond, forgotten all at once

}  // namespace

std::string SunburstDetector::describe_victim_domain(std::uint64_t guid, Alert& alert) const {
    if (auto victim = domains_.assembled_domain(guid)) {
        alert.evidence["victim_domain"] = *victim;
        alert.evidence["victim_domain_complete"] = true;
        return *victim;
    }
    if (auto partial = domains_.partial_domain(guid)) {
        alert.evidence["victim_domain"] = nullptr;
        alert.evidence["victim_domain_partial"] = *partial;
        alert.evidence["victim_domain_complete"] = false;
        alert.evidence["victim_domain_note"] =
            "fragments seen so far (' ... ' where some are missing; a last fragment alone is the whole domain if it "
            "is this short, else its tail); this finding is updated once the domain is assembled";
    }
    return {};
}

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
        if (event.address_count) alert.dst_addr = event.addresses[0];  // the address the backdoor is sent to
        alert.domain = "avsvmcloud.com";
        alert.query_name = note.name;
        alert.first_seen_ns = alert.last_seen_ns = event.time_ns;
        alert.techniques = {"T1195.002", "T1071.004", "T1568.002"};
        alert.evidence["name"] = note.name;
        alert.evidence["message"] = std::string(to_string(message.kind));
        alert.evidence["guid"] = guid;
        alert.evidence["resolver"] = event.server.to_string();
        const std::string domain = describe_victim_domain(message.guid, alert);
        if (message.kind != SunburstKind::domain_fragment) {
            alert.evidence["timestamp"] =
                format_iso8601_ms(static_cast<std::uint64_t>(message.timestamp) * 1'000'000'000ull);
            alert.evidence["stage2"] = message.stage2;
        }
        alert.evidence["note"] = "SolarWinds Orion SUNBURST backdoor beacon: treat the client as compromised";
        alert.dedup_key = fmt::format("sunburst:{}:{}", event.client.to_string(), guid);
        if (message.stage2) alert.dedup_key += ":stage2";  // the operators chose this victim: reported on its own
        for (std::size_t c = 0; c < event.cname_count; ++c) {
            alert.evidence["cname"] = std::string(event.cnames[c].view());  // the stage-2 C2 domain handed out
            alert.dedup_key += ":cname";
        }
        auto known = reported_.find(alert.dedup_key);
        if (known == reported_.end()) {
            if (reported_.size() >= kMaxReported) reported_.clear();
            reported_.emplace(alert.dedup_key, Reported{alert.first_seen_ns, domain});
            out.raise(std::move(alert), i);
        } else if (!domain.empty() && domain != known->second.domain) {
            // Assembled, or assembled again differently (a fragment lost in one round came in the next).
            known->second.domain = domain;
            alert.first_seen_ns = known->second.first_seen_ns;  // the same finding: the same id
            out.update(std::move(alert), i);
        } else {
            out.raise(std::move(alert), i);  // the backdoor keeps beaconing: `ongoing` now and then
        }
    }
}

}  // namespace flowguard::analyzer
