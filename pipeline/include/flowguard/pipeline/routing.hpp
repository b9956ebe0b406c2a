#pragma once
// One producer thread's side of the live pipeline (a receive or capture thread): each record and DNS event it
// delivers goes to the shard of its internal host (ShardRouter), in pooled batches that leave when full or
// once they have waited kMaxBatchAgeNs. It never waits for a shard: what a full shard cannot take is dropped
// and counted here, so records = delivered + ring_drops holds exactly.
#include <flowguard/core/counters.hpp>
#include <flowguard/core/flow_batch.hpp>
#include <flowguard/core/stage.hpp>
#include <flowguard/pipeline/shard_router.hpp>

#include <atomic>
#include <cstdint>
#include <vector>

namespace flowguard::pipeline {

struct RoutingCounters {
    std::uint64_t ring_drops = 0;  // records a full shard could not take
    std::uint64_t dns_drops = 0;   // DNS events a full shard could not take
};

inline constexpr CounterTable<RoutingCounters, 2> kRoutingCounters{{
    {"ring_drops", counter_ref<&RoutingCounters::ring_drops>, Merge::sum, "flowguard_ring_drops_total",
     MetricType::counter,
     "Records dropped because a shard's ring was full (receiver: receive thread index, or captureN for span-port "
     "capture threads)."},
    {"dns_drops", counter_ref<&RoutingCounters::dns_drops>, Merge::sum, "flowguard_dns_drops_total",
     MetricType::counter, "DNS events dropped because a shard's DNS ring was full."},
}};

class ShardRouting final : public RecordSink {
public:
    // `flows[s]` / `dns[s]` carry to shard s; no DNS channels: DNS events are not wanted (nothing reads them).
    ShardRouting(ShardRouter router, std::vector<BatchChannel*> flows, std::vector<DnsChannel*> dns);

    void deliver(std::span<const DnsEvent> dns, std::span<const FlowRecord> flows, std::uint64_t now_ns) override;
    void tick(std::uint64_t now_ns) override;
    bool holding() const override { return flows_.partial() || dns_.partial(); }
    bool wants_dns() const override { return !dns_.empty(); }

    // Readable from any thread (the producer writes them with plain stores).
    RoutingCounters counters() const noexcept;

private:
    ShardRouter router_;
    ShardBatcher<FlowBatch> flows_;
    ShardBatcher<DnsBatch> dns_;
    std::atomic<std::uint64_t> ring_drops_{0};
    std::atomic<std::uint64_t> dns_drops_{0};
};

}  // namespace flowguard::pipeline
