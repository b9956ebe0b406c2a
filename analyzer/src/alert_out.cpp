#include <flowguard/analyzer/detector.hpp>
#include <flowguard/core/time_format.hpp>

#include <algorithm>
#include <cmath>
#include <tuple>

namespace flowguard::analyzer {
namespace {

constexpr std::size_t kMaxReported = 1u << 20;  // dedup keys remembered; beyond, forgotten all at once
constexpr std::size_t kMaxMerged = 1u << 16;    // mergeable findings' alerts kept; beyond, not merged any more

// The series of a client and destination that may report one finding together (bits), 0 for other kinds.
std::uint8_t series_of(const Alert& alert) {
    if (alert.kind == "dns_beacon") return 4;
    if (alert.kind != "beacon") return 0;
    return alert.evidence.contains("grouped_by") ? 2 : 1;
}

std::string_view series_name(std::uint8_t bit) {
    return bit == 4 ? "dns" : bit == 2 ? "name" : "address";
}

boost::json::object series_summary(const Alert& alert) {
    boost::json::object s{{"kind", alert.kind},
                          {"series", series_name(series_of(alert))},
                          {"score", std::round(alert.score * 1000) / 1000},
                          {"first_seen", format_iso8601_ms(alert.first_seen_ns)},
                          {"last_seen", format_iso8601_ms(alert.last_seen_ns)}};
    if (!alert.dst_addr.empty()) s["dst_addr"] = alert.dst_addr.to_string();
    if (alert.dst_port) s["dst_port"] = alert.dst_port;
    s["evidence"] = alert.evidence;
    return s;
}

void fill_if_empty(std::string& into, const std::string& from) {
    if (into.empty()) into = from;
}

}  // namespace

void AlertOut::keep(std::uint32_t event_index, Alert alert) {
    ++raised_;
    pending_.emplace_back(event_index, std::move(alert));
}

void AlertOut::raise(Alert alert, std::uint32_t event_index) {
    auto it = reported_.find(alert.dedup_key);
    if (it == reported_.end() && alert.status == AlertStatus::ongoing) return;  // suppressed or forgotten
    if (it == reported_.end()) {
        if (reported_.size() >= kMaxReported) {
            reported_.clear();
            merged_.clear();
        }
        Reported fresh{alert.first_seen_ns, alert.last_seen_ns, series_of(alert), 0};
        if (fresh.series != 0 && merged_.size() < kMaxMerged) {
            merged_.push_back(alert);
            fresh.merged = static_cast<std::uint32_t>(merged_.size());
        }
        alert.id = alert_id(alert.dedup_key, alert.first_seen_ns);
        reported_.emplace(alert.dedup_key, fresh);
        keep(event_index, std::move(alert));
        return;
    }
    Reported& known = it->second;
    const std::uint8_t series = series_of(alert);
    if (alert.status != AlertStatus::ongoing && series != 0 && (known.series & series) == 0 && known.merged != 0) {
        merge_into(known, std::move(alert), event_index);
        return;
    }
    if (alert.last_seen_ns < known.ongoing_ns + kOngoingNs) return;
    known.ongoing_ns = alert.last_seen_ns;
    alert.status = AlertStatus::ongoing;
    alert.first_seen_ns = known.first_seen_ns;
    alert.id = alert_id(alert.dedup_key, known.first_seen_ns);
    pending_.emplace_back(event_index, std::move(alert));  // not counted as raised: nothing new was found
}

// Another series of the same client and destination: one finding with the evidence of each series.
void AlertOut::merge_into(Reported& known, Alert alert, std::uint32_t event_index) {
    Alert& finding = merged_[known.merged - 1];
    auto* series = finding.evidence.if_contains("series");
    if (series == nullptr || !series->is_array()) {
        boost::json::array first{series_summary(finding)};
        finding.evidence["series"] = std::move(first);
        series = finding.evidence.if_contains("series");
    }
    series->get_array().emplace_back(series_summary(alert));
    known.series |= series_of(alert);
    finding.score = std::max(finding.score, alert.score);
    finding.severity = std::max(finding.severity, alert.severity);
    if (finding.dst_addr.empty()) finding.dst_addr = alert.dst_addr;
    if (finding.dst_port == 0) finding.dst_port = alert.dst_port;
    if (finding.proto == 0) finding.proto = alert.proto;
    fill_if_empty(finding.domain, alert.domain);
    fill_if_empty(finding.query_name, alert.query_name);
    finding.last_seen_ns = std::max(finding.last_seen_ns, alert.last_seen_ns);
    for (auto& t : alert.techniques)
        if (std::find(finding.techniques.begin(), finding.techniques.end(), t) == finding.techniques.end())
            finding.techniques.push_back(std::move(t));
    known.ongoing_ns = finding.last_seen_ns;
    Alert out = finding;
    out.first_seen_ns = known.first_seen_ns;
    out.status = AlertStatus::updated;
    out.id = alert_id(out.dedup_key, known.first_seen_ns);
    keep(event_index, std::move(out));
}

void AlertOut::update(Alert alert, std::uint32_t event_index) {
    auto [it, fresh] = reported_.try_emplace(alert.dedup_key, Reported{alert.first_seen_ns, alert.last_seen_ns, 0, 0});
    if (!fresh) {
        it->second.ongoing_ns = std::max(it->second.ongoing_ns, alert.last_seen_ns);
        alert.first_seen_ns = std::min(alert.first_seen_ns, it->second.first_seen_ns);  // the finding's id stays
    }
    alert.status = AlertStatus::updated;
    alert.id = alert_id(alert.dedup_key, alert.first_seen_ns);
    keep(event_index, std::move(alert));
}

void AlertOut::take(std::vector<Alert>& out) {
    if (pending_.empty()) return;
    // Event order; one event's alerts in the order the detectors raised them (the list's order).
    std::stable_sort(pending_.begin(), pending_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    // Decided at the end of input: in a fixed order, not a hash table's (first seen, then dedup key).
    const auto at_end = std::find_if(pending_.begin(), pending_.end(), [](const auto& p) { return p.first == kAtEnd; });
    std::sort(at_end, pending_.end(), [](const auto& a, const auto& b) {
        return std::tie(a.second.first_seen_ns, a.second.dedup_key) <
               std::tie(b.second.first_seen_ns, b.second.dedup_key);
    });
    for (auto& [index, alert] : pending_) out.push_back(std::move(alert));
    pending_.clear();
}

}  // namespace flowguard::analyzer
