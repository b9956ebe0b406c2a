#pragma once
// The finding ledger: the one place that knows which findings are open, between the detectors (every shard and
// the global stage publish into it) and the alert outputs (the alert log, webhooks). It gives findings a
// lifecycle the outputs carry:
//   open      the first alert of a dedup key; delivered, stamped with `raised` (the ledger's clock, below)
//             and the sensor;
//   updated   new evidence for an open finding (same id); delivered;
//   ongoing   the behaviour goes on: no delivery, except a re-assertion to Alertmanager (at most hourly,
//             and at least every half quiet period while the finding is active);
//   resolved  nothing heard of the finding for `alerts.resolve_after` on the ledger's clock (the input's
//             clock: wall clock live, capture time in `analyze`); delivered once; the finding leaves the ledger.
// With `alerts.state_file` the open findings survive restarts: a detector that finds an open finding again
// after a restart (its memory is gone) does not re-open it, so no ticket is opened twice; a finding that went
// quiet while flowguard was down is resolved by the first tick after the start.
#include <flowguard/core/alert.hpp>
#include <flowguard/core/counters.hpp>
#include <flowguard/core/stage.hpp>
#include <flowguard/exporters/config.hpp>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace flowguard::exporters {

struct FindingStats {
    std::uint64_t open = 0;          // findings open now
    std::uint64_t opened = 0;        // delivered as open
    std::uint64_t updated = 0;       // delivered as updated
    std::uint64_t resolved = 0;      // delivered as resolved
    std::uint64_t reasserted = 0;    // ongoing re-assertions delivered (Alertmanager)
    std::uint64_t found_again = 0;   // open alerts of a finding already open (after a restart): not re-sent
    std::uint64_t evicted = 0;       // resolved early because alerts.max_open findings were open
    std::uint64_t state_errors = 0;  // the state file could not be read or written
};

inline constexpr CounterTable<FindingStats, 4> kFindingStats{{
    {"open", counter_ref<&FindingStats::open>, Merge::sum, "flowguard_findings_open", MetricType::gauge,
     "Findings open now (alerted, not resolved)."},
    {"found_again", counter_ref<&FindingStats::found_again>, Merge::sum, "flowguard_findings_found_again_total",
     MetricType::counter, "Findings detected again while open (e.g. after a restart): not re-sent."},
    {"evicted", counter_ref<&FindingStats::evicted>, Merge::sum, "flowguard_findings_evicted_total",
     MetricType::counter, "Findings resolved early because alerts.max_open findings were open."},
    {"state_errors", counter_ref<&FindingStats::state_errors>, Merge::sum, "flowguard_findings_state_errors_total",
     MetricType::counter, "Failures to read or write alerts.state_file (each one logged)."},
}};

// flowguard_findings_total{status}: what the alert outputs received, by lifecycle status.
inline constexpr CounterTable<FindingStats, 4> kFindingDeliveries{{
    {"opened", counter_ref<&FindingStats::opened>, Merge::sum, "flowguard_findings_total", MetricType::counter,
     "Finding alerts delivered to the alert outputs, by lifecycle status.", 1, "open"},
    {"updated", counter_ref<&FindingStats::updated>, Merge::sum, "flowguard_findings_total", MetricType::counter,
     "Finding alerts delivered to the alert outputs, by lifecycle status.", 1, "updated"},
    {"resolved", counter_ref<&FindingStats::resolved>, Merge::sum, "flowguard_findings_total", MetricType::counter,
     "Finding alerts delivered to the alert outputs, by lifecycle status.", 1, "resolved"},
    {"reasserted", counter_ref<&FindingStats::reasserted>, Merge::sum, "flowguard_findings_total", MetricType::counter,
     "Finding alerts delivered to the alert outputs, by lifecycle status.", 1, "ongoing"},
}};

void append_finding_metric_specs(std::vector<MetricSpec>& catalog);

struct LedgerSettings {
    std::string state_file;  // "" = not kept across restarts
    std::uint64_t resolve_after_ns = 0;
    std::size_t max_open = 0;
    std::string sensor;  // observer name stamped on every delivered alert
};

class FindingLedger final : public AlertSink {
public:
    // Loads `state_file` when set. An unreadable or corrupt file is logged, counted, moved aside
    // (`<file>.corrupt`) and the ledger starts empty: a damaged file never stops the daemon.
    FindingLedger(LedgerSettings settings, std::vector<AlertSink*> outputs);
    ~FindingLedger() override;  // save()
    FindingLedger(const FindingLedger&) = delete;
    FindingLedger& operator=(const FindingLedger&) = delete;

    std::string_view name() const override { return "findings"; }
    void publish(std::span<const Alert> alerts) override;
    // Resolves the findings quiet for resolve_after at `now_ns`; saves activity now and then. Cheap when
    // nothing is due (any thread may call it after every round).
    void tick(std::uint64_t now_ns) override;
    void save();  // writes the state file now (stop)

    FindingStats stats() const;
    void write_metrics(MetricSink& sink) const;

private:
    struct Finding {
        Alert alert;                    // as last delivered; last_seen: the finding's latest event time
        std::uint64_t activity_ns = 0;  // when the ledger last heard of it, on its clock
        std::uint64_t reasserted_ns = 0;
    };
    void load();
    void accept(Alert alert, std::vector<Alert>& out);
    void open_finding(Alert alert, std::vector<Alert>& out);
    void reassert(Finding& finding, std::vector<Alert>& out);
    void resolve_quiet(std::vector<Alert>& out);
    void evict_oldest(std::vector<Alert>& out);
    void deliver(std::vector<Alert>& out);
    void save_locked();
    std::uint64_t active_until(const Finding& finding) const;
    std::uint64_t reassert_every() const;
    std::uint64_t clock_for(const Alert& alert) const;

    LedgerSettings settings_;
    std::vector<AlertSink*> outputs_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, Finding> open_;
    std::uint64_t now_ns_ = 0;  // the ledger's clock: the latest tick
    std::uint64_t saved_ns_ = 0;
    bool dirty_ = false;
    std::atomic<std::uint64_t> next_check_ns_{0};
    FindingStats stats_;
};

}  // namespace flowguard::exporters
