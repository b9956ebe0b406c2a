#include <flowguard/analyzer/detector.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

namespace flowguard::analyzer {
namespace {

constexpr std::size_t kMaxReported = 1u << 20;  // dedup keys remembered; beyond, forgotten all at once

}  // namespace

bool AlertOut::first_time(const std::string& dedup_key) {
    if (reported_.count(dedup_key)) return false;
    if (reported_.size() >= kMaxReported) reported_.clear();
    reported_.insert(dedup_key);
    return true;
}

void AlertOut::raise(Alert alert, std::uint32_t event_index) {
    if (!first_time(alert.dedup_key)) return;
    alert.id = fmt::format("{}@{}", alert.dedup_key, alert.first_seen_ns / 1'000'000'000ull);
    ++raised_;
    pending_.emplace_back(event_index, std::move(alert));
}

void AlertOut::update(Alert alert, std::uint32_t event_index) {
    first_time(alert.dedup_key);
    alert.status = AlertStatus::updated;
    alert.id = fmt::format("{}@{}", alert.dedup_key, alert.first_seen_ns / 1'000'000'000ull);
    ++raised_;
    pending_.emplace_back(event_index, std::move(alert));
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
