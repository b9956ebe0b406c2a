#pragma once
// One shard of the live pipeline: consumes the record and DNS batches that every producer (receive and
// capture threads) routed to it, passes each batch through its stages (flow output, detectors, traffic
// statistics), and sends the alerts they raise to the alert sinks. Records of one internal host always reach
// the same shard, so the stages' per-host state needs no lock.
#include <flowguard/core/counters.hpp>
#include <flowguard/core/doorbell.hpp>
#include <flowguard/core/flow_batch.hpp>
#include <flowguard/core/stage.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace flowguard::pipeline {

struct ShardCounters {
    std::uint64_t records = 0;         // records the shard received (= records decoded - ring_drops)
    std::uint64_t dns_events = 0;      // DNS events the shard received
    std::uint64_t queued_batches = 0;  // batches waiting in its rings when published
};

// Per shard (label `shard`); `records` and `dns_events` also add up into the summary's records_delivered and
// dns_events.
inline constexpr CounterTable<ShardCounters, 3> kShardCounters{{
    {"records_delivered", counter_ref<&ShardCounters::records>, Merge::sum, "flowguard_shard_records_total",
     MetricType::counter, "Records a shard received."},
    {"dns_events", counter_ref<&ShardCounters::dns_events>},
    {"", counter_ref<&ShardCounters::queued_batches>, Merge::sum, "flowguard_queue_depth_batches", MetricType::gauge,
     "Record batches waiting in a shard's rings."},
}};

// Alerts raised on a shard, by (kind, severity).
using AlertCounts = std::map<std::pair<std::string, std::string>, std::uint64_t>;

struct ShardSnapshot {
    ShardCounters counters;
    AlertCounts alerts;
};

class Shard {
public:
    Shard(std::vector<BatchChannel*> inputs, std::vector<DnsChannel*> dns_inputs,
          std::vector<std::unique_ptr<Stage>> stages, std::vector<AlertSink*> alert_sinks);
    Shard(const Shard&) = delete;
    Shard& operator=(const Shard&) = delete;

    // Consumes until `producers_done` is set and every input is empty; then finishes its stages.
    void run(const std::atomic<bool>& producers_done);
    // Cuts the current nap short (at shutdown, so draining starts at once).
    void wake() noexcept { doorbell_.ring(); }

    std::uint64_t records() const noexcept { return records_.load(std::memory_order_relaxed); }
    std::uint64_t dns_events() const noexcept { return dns_events_.load(std::memory_order_relaxed); }
    // As of the last publication (once a second, and at the end): safe from any thread.
    ShardSnapshot published() const;
    const std::vector<std::unique_ptr<Stage>>& stages() const noexcept { return stages_; }

private:
    std::size_t drain_once(std::uint64_t now_ns);
    std::size_t drain_dns(std::uint64_t now_ns);
    void send_alerts();
    void publish(std::uint64_t now_ns, bool last);

    std::vector<BatchChannel*> inputs_;
    std::vector<DnsChannel*> dns_inputs_;
    std::vector<std::unique_ptr<Stage>> stages_;
    std::vector<AlertSink*> alert_sinks_;
    Doorbell doorbell_;  // rung by the producers when a channel is a quarter used
    Alerts pending_alerts_;
    AlertCounts alert_counts_;
    std::atomic<std::uint64_t> records_{0};
    std::atomic<std::uint64_t> dns_events_{0};
    std::uint64_t last_publish_ns_ = 0;
    mutable std::mutex published_mutex_;
    ShardSnapshot published_;
};

}  // namespace flowguard::pipeline
