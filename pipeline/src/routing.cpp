#include <flowguard/core/counter.hpp>
#include <flowguard/pipeline/routing.hpp>

namespace flowguard::pipeline {

ShardRouting::ShardRouting(ShardRouter router, std::vector<BatchChannel*> flows, std::vector<DnsChannel*> dns)
    : router_(std::move(router)), flows_(std::move(flows)), dns_(std::move(dns)) {}

void ShardRouting::deliver(std::span<const DnsEvent> dns, std::span<const FlowRecord> flows, std::uint64_t now_ns) {
    std::uint64_t dropped = 0;
    if (!dns_.empty()) {
        for (const auto& event : dns)
            if (!dns_.add(router_.shard_of(event), event, now_ns)) ++dropped;
        if (dropped) add_single_writer(dns_drops_, dropped);
        dropped = 0;
    }
    for (const auto& record : flows)
        if (!flows_.add(router_.shard_of(record), record, now_ns)) ++dropped;  // the shard holds every batch
    if (dropped) add_single_writer(ring_drops_, dropped);
}

void ShardRouting::tick(std::uint64_t now_ns) {
    const std::uint64_t older_than = now_ns > kMaxBatchAgeNs ? now_ns - kMaxBatchAgeNs : 0;
    flows_.hand_over(older_than);
    dns_.hand_over(older_than);
}

RoutingCounters ShardRouting::counters() const noexcept {
    return {ring_drops_.load(std::memory_order_relaxed), dns_drops_.load(std::memory_order_relaxed)};
}

}  // namespace flowguard::pipeline
