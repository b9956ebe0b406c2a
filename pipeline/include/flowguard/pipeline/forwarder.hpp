#pragma once
// The two ways a global stage (core/stage.hpp) gets its records. Live, every shard runs a Forwarder: it copies
// the records the selection picks into pooled batches on a channel to the global thread, handed over when full
// or at the shard's flush, never waiting (what a full channel cannot take is dropped and counted, like ring
// drops). Offline, SelectedStage applies the same selection in the runner's thread.
#include <flowguard/core/counters.hpp>
#include <flowguard/core/flow_batch.hpp>
#include <flowguard/core/stage.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace flowguard::pipeline {

struct ForwardCounters {
    std::uint64_t forwarded = 0;      // records handed to the global thread
    std::uint64_t forward_drops = 0;  // records its full channel could not take
};

// Per shard (label `shard`), and summed into the stop summary.
inline constexpr CounterTable<ForwardCounters, 2> kForwardCounters{{
    {"global_forwarded", counter_ref<&ForwardCounters::forwarded>, Merge::sum, "flowguard_global_forwarded_total",
     MetricType::counter, "Records a shard forwarded to the global stages (the host graph)."},
    {"global_forward_drops", counter_ref<&ForwardCounters::forward_drops>, Merge::sum,
     "flowguard_global_forward_drops_total", MetricType::counter,
     "Records a shard could not forward because the global stage's channel was full."},
}};

class Forwarder final : public Stage {
public:
    // `selection` belongs to the global stage, which outlives the shards.
    Forwarder(const ForwardSelection& selection, BatchChannel& channel);

    void on_flows(std::span<const FlowRecord> records, std::uint64_t now_ns, Alerts& alerts) override;
    // The partly filled batch leaves at every flush: the global stage sees a shard's records within one of its
    // drain rounds (<= 20 ms), and nothing is kept at the end.
    void flush(std::uint64_t now_ns) override;

    ForwardCounters counters() const noexcept;  // from any thread

private:
    const ForwardSelection& selection_;
    ShardBatcher<FlowBatch> batcher_;
    std::atomic<std::uint64_t> forwarded_{0};
    std::atomic<std::uint64_t> drops_{0};
};

// Offline: the global stage behind the same selection, in the runner's thread.
class SelectedStage final : public Stage {
public:
    explicit SelectedStage(std::unique_ptr<GlobalStage> inner);

    void on_flows(std::span<const FlowRecord> records, std::uint64_t now_ns, Alerts& alerts) override;
    void flush(std::uint64_t now_ns) override { inner_->flush(now_ns); }
    void finish(Alerts& alerts) override { inner_->finish(alerts); }
    void publish() override { inner_->publish(); }

    GlobalStage& inner() noexcept { return *inner_; }
    std::uint64_t forwarded() const noexcept { return forwarded_; }

private:
    std::unique_ptr<GlobalStage> inner_;
    std::vector<FlowRecord> selected_;  // reused: grows to the largest batch once
    std::uint64_t forwarded_ = 0;
};

}  // namespace flowguard::pipeline
