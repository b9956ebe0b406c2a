#include <flowguard/core/clock.hpp>
#include <flowguard/core/state_file.hpp>
#include <flowguard/core/time_format.hpp>
#include <flowguard/exporters/finding_ledger.hpp>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace flowguard::exporters {
namespace {

namespace json = boost::json;

constexpr std::uint64_t kCheckEveryNs = kSecondNs;              // resolution checks on the ledger's clock
constexpr std::uint64_t kSaveActivityEveryNs = 60 * kSecondNs;  // activity alone is saved at most this often
constexpr std::uint64_t kReassertEveryNs = 3600 * kSecondNs;    // Alertmanager re-assertion of ongoing findings
constexpr int kStateVersion = 1;

}  // namespace

void append_finding_metric_specs(std::vector<MetricSpec>& catalog) {
    append_metric_specs(catalog, kFindingStats);
    append_metric_specs(catalog, kFindingDeliveries, {"status"});
}

FindingLedger::FindingLedger(LedgerSettings settings, std::vector<AlertSink*> outputs)
    : settings_(std::move(settings)), outputs_(std::move(outputs)) {
    load();
}

FindingLedger::~FindingLedger() {
    save();
}

// Alertmanager forgets an alert at its endsAt unless it is sent again: twice the quiet period after the last
// re-assertion, which comes at least every half period while the finding is active, so Alertmanager never
// resolves on its own what the ledger holds open (the ledger's resolve ends it); if flowguard is gone for
// good, Alertmanager still resolves it in the end.
std::uint64_t FindingLedger::active_until(const Finding& f) const {
    return std::max(f.activity_ns, now_ns_) + 2 * settings_.resolve_after_ns;
}

std::uint64_t FindingLedger::reassert_every() const {
    return std::min(kReassertEveryNs, settings_.resolve_after_ns / 2);
}

// Activity is timed on the ledger's clock, not the records': live, an exporter with a wrong clock cannot
// resolve (or keep open) a finding early; offline the ledger's clock is the capture's.
std::uint64_t FindingLedger::clock_for(const Alert& alert) const {
    return now_ns_ != 0 ? now_ns_ : alert.last_seen_ns;
}

void FindingLedger::publish(std::span<const Alert> alerts) {
    std::vector<Alert> out;
    std::lock_guard lock(mutex_);
    for (const auto& alert : alerts) accept(alert, out);
    // Saved before delivery: a crash in between loses a delivery rather than re-sending one after restart.
    if (std::any_of(out.begin(), out.end(), [](const Alert& a) { return a.status != AlertStatus::ongoing; }))
        save_locked();
    deliver(out);
}

void FindingLedger::accept(Alert alert, std::vector<Alert>& out) {
    auto it = open_.find(alert.dedup_key);
    if (it == open_.end()) {
        // Unknown: new; or an update / ongoing of a finding resolved meanwhile (the behaviour came back).
        if (alert.status != AlertStatus::open) alert.id = alert_id(alert.dedup_key, alert.last_seen_ns);
        open_finding(std::move(alert), out);
        return;
    }
    Finding& f = it->second;
    f.activity_ns = std::max(f.activity_ns, clock_for(alert));
    f.alert.last_seen_ns = std::max(f.alert.last_seen_ns, alert.last_seen_ns);
    dirty_ = true;
    switch (alert.status) {
        case AlertStatus::open:  // found again by a detector that forgot it (a restart): not re-sent
            ++stats_.found_again;
            [[fallthrough]];
        case AlertStatus::ongoing:
            reassert(f, out);
            return;
        case AlertStatus::updated:
        case AlertStatus::resolved:
            break;
    }
    alert.status = AlertStatus::updated;
    alert.id = f.alert.id;
    alert.first_seen_ns = std::min(alert.first_seen_ns, f.alert.first_seen_ns);
    alert.last_seen_ns = f.alert.last_seen_ns;
    alert.raised_ns = f.alert.raised_ns;
    alert.sensor = settings_.sensor;
    alert.expires_ns = active_until(f);
    f.reasserted_ns = f.activity_ns;
    f.alert = alert;
    ++stats_.updated;
    out.push_back(std::move(alert));
}

// Alertmanager's alert goes on: a copy of the finding as delivered (which stays open or updated), marked
// ongoing, with a later expiry; at most every reassert_every() of activity.
void FindingLedger::reassert(Finding& f, std::vector<Alert>& out) {
    if (f.activity_ns < f.reasserted_ns + reassert_every()) return;
    f.reasserted_ns = f.activity_ns;
    Alert ongoing = f.alert;
    ongoing.status = AlertStatus::ongoing;
    ongoing.expires_ns = active_until(f);
    ++stats_.reasserted;
    out.push_back(std::move(ongoing));
}

void FindingLedger::open_finding(Alert alert, std::vector<Alert>& out) {
    if (settings_.max_open != 0 && open_.size() >= settings_.max_open) evict_oldest(out);
    alert.status = AlertStatus::open;
    // The ledger's clock: the wall clock live, the capture's clock offline (a retro-hunt's output reproduces).
    alert.raised_ns = clock_for(alert);
    alert.sensor = settings_.sensor;
    Finding f{alert, clock_for(alert), clock_for(alert)};
    alert.expires_ns = f.alert.expires_ns = active_until(f);
    open_.emplace(alert.dedup_key, std::move(f));
    ++stats_.opened;
    out.push_back(std::move(alert));
    dirty_ = true;
}

void FindingLedger::evict_oldest(std::vector<Alert>& out) {
    const auto oldest = std::min_element(open_.begin(), open_.end(), [](const auto& a, const auto& b) {
        return a.second.activity_ns < b.second.activity_ns;
    });
    Alert resolved = std::move(oldest->second.alert);
    resolved.status = AlertStatus::resolved;
    resolved.resolved_ns = std::max(now_ns_, oldest->second.activity_ns);
    resolved.evidence["resolved_because"] = "alerts.max_open findings were open";
    open_.erase(oldest);
    ++stats_.evicted;
    ++stats_.resolved;
    out.push_back(std::move(resolved));
}

void FindingLedger::tick(std::uint64_t now_ns) {
    if (now_ns < next_check_ns_.load(std::memory_order_relaxed)) return;
    std::vector<Alert> out;
    {
        std::lock_guard lock(mutex_);
        if (now_ns <= now_ns_) return;
        now_ns_ = now_ns;
        next_check_ns_.store(now_ns + kCheckEveryNs, std::memory_order_relaxed);
        resolve_quiet(out);
        if (!out.empty()) {
            save_locked();
        } else if (dirty_ && now_ns_ >= saved_ns_ + kSaveActivityEveryNs) {
            save_locked();
        }
        deliver(out);
    }
}

void FindingLedger::resolve_quiet(std::vector<Alert>& out) {
    std::vector<std::pair<std::uint64_t, std::string>> quiet;  // (activity, key): resolved quietest first
    for (const auto& [key, f] : open_)
        if (f.activity_ns + settings_.resolve_after_ns <= now_ns_) quiet.emplace_back(f.activity_ns, key);
    std::sort(quiet.begin(), quiet.end());
    for (const auto& [activity, key] : quiet) {
        auto node = open_.extract(key);
        Alert resolved = std::move(node.mapped().alert);
        resolved.status = AlertStatus::resolved;
        resolved.resolved_ns = now_ns_;
        resolved.expires_ns = 0;
        ++stats_.resolved;
        out.push_back(std::move(resolved));
    }
}

void FindingLedger::deliver(std::vector<Alert>& out) {
    if (out.empty()) return;
    for (auto* sink : outputs_) sink->publish(out);
}

FindingStats FindingLedger::stats() const {
    std::lock_guard lock(mutex_);
    FindingStats s = stats_;
    s.open = open_.size();
    return s;
}

void FindingLedger::write_metrics(MetricSink& sink) const {
    const FindingStats s = stats();
    flowguard::write_metrics(sink, s, kFindingStats);
    flowguard::write_metrics(sink, s, kFindingDeliveries);
}

void FindingLedger::save() {
    std::lock_guard lock(mutex_);
    if (dirty_) save_locked();
}

// The whole ledger, written to a temporary file and renamed over the old one: a crash leaves one or the other.
void FindingLedger::save_locked() {
    if (settings_.state_file.empty()) return;
    json::array findings;
    std::vector<const std::pair<const std::string, Finding>*> ordered;
    for (const auto& entry : open_) ordered.push_back(&entry);
    std::sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
    for (const auto* entry : ordered) {
        const Finding& f = entry->second;
        findings.push_back(json::object{{"alert", to_json(f.alert)},
                                        {"activity", format_iso8601_ns(f.activity_ns)},
                                        {"reasserted", format_iso8601_ns(f.reasserted_ns)}});
    }
    const json::object state{{"version", kStateVersion}, {"findings", std::move(findings)}};
    const std::string error =
        replace_file(settings_.state_file, [&](std::ostream& file) { file << serialize_readable(state) << '\n'; });
    if (!error.empty()) {
        ++stats_.state_errors;
        spdlog::error("findings: {} ({} open findings not saved; a restart would re-send them)", error, open_.size());
        return;
    }
    dirty_ = false;
    saved_ns_ = now_ns_;
}

void FindingLedger::load() {
    if (settings_.state_file.empty()) return;
    std::ifstream file(settings_.state_file);
    if (!file) {
        if (std::filesystem::exists(settings_.state_file)) {
            ++stats_.state_errors;
            spdlog::error("findings: cannot read {}: {}; starting with no open findings", settings_.state_file,
                          std::strerror(errno));
        }
        return;
    }
    std::stringstream text;
    text << file.rdbuf();
    try {
        const auto state = json::parse(text.str()).as_object();
        if (state.at("version").to_number<int>() != kStateVersion) throw std::invalid_argument("unknown state version");
        for (const auto& entry : state.at("findings").as_array()) {
            const auto& o = entry.as_object();
            Finding f;
            f.alert = alert_from_json(o.at("alert").as_object());
            const auto activity = parse_iso8601_ns(o.at("activity").as_string());
            const auto reasserted = parse_iso8601_ns(o.at("reasserted").as_string());
            if (!activity || !reasserted) throw std::invalid_argument("bad activity time");
            f.activity_ns = *activity;
            f.reasserted_ns = *reasserted;
            open_.insert_or_assign(f.alert.dedup_key, std::move(f));
        }
    } catch (const std::exception& e) {
        ++stats_.state_errors;
        open_.clear();
        const std::string aside = settings_.state_file + ".corrupt";
        std::error_code ec;
        std::filesystem::rename(settings_.state_file, aside, ec);
        spdlog::error("findings: {} is not a findings state file ({}); moved to {}, starting with no open findings",
                      settings_.state_file, e.what(), ec ? "nowhere: " + ec.message() : aside);
        return;
    }
    spdlog::info("findings: {} open findings restored from {}", open_.size(), settings_.state_file);
}

}  // namespace flowguard::exporters
