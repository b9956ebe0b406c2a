#include "pipeline_doubles.hpp"

#include <flowguard/pipeline/routing.hpp>

#include <doctest/doctest.h>

#include <memory>

using namespace flowguard;
using namespace flowguard::testing;

namespace {

struct Channels {
    explicit Channels(std::size_t shards, std::size_t batches, bool dns = true) {
        for (std::size_t s = 0; s < shards; ++s) {
            flow_storage.push_back(std::make_unique<BatchChannel>(batches));
            flows.push_back(flow_storage.back().get());
            if (dns) {
                dns_storage.push_back(std::make_unique<DnsChannel>(batches));
                dns_channels.push_back(dns_storage.back().get());
            }
        }
    }
    std::vector<std::unique_ptr<BatchChannel>> flow_storage;
    std::vector<std::unique_ptr<DnsChannel>> dns_storage;
    std::vector<BatchChannel*> flows;
    std::vector<DnsChannel*> dns_channels;
};

template <class Channel, class Check>
std::size_t drain(Channel* channel, Check check) {
    std::size_t n = 0;
    while (auto* batch = channel->consume()) {
        for (std::uint32_t i = 0; i < batch->count; ++i) check(batch->records[i]);
        n += batch->count;
        channel->release(batch);
    }
    return n;
}

}  // namespace

TEST_CASE("routing: each record reaches its internal host's shard, DNS events their client's") {
    constexpr std::size_t kShards = 4;
    Channels c(kShards, 64);
    const pipeline::ShardRouter router(NetworkSet::private_networks(), kShards);
    pipeline::ShardRouting routing(router, c.flows, c.dns_channels);
    std::vector<FlowRecord> records;
    std::vector<DnsEvent> events;
    for (std::uint32_t i = 0; i < 1000; ++i) {
        FlowRecord r;
        r.src_addr = *IpAddress::parse("198.51.100.1");  // answers: the internal host is the destination
        r.dst_addr = IpAddress::from_v4(0x0a000000u + i);
        records.push_back(r);
        DnsEvent e;
        e.client = IpAddress::from_v4(0x0a000000u + i);
        e.server = *IpAddress::parse("10.0.0.53");
        events.push_back(e);
    }
    routing.deliver(events, records, 1'000);
    routing.tick(UINT64_MAX);  // what is partly filled leaves
    std::size_t flows = 0, dns = 0;
    bool right_shard = true;
    for (std::size_t s = 0; s < kShards; ++s) {
        flows += drain(c.flows[s], [&](const FlowRecord& r) { right_shard = right_shard && router.shard_of(r) == s; });
        dns +=
            drain(c.dns_channels[s], [&](const DnsEvent& e) { right_shard = right_shard && router.shard_of(e) == s; });
    }
    CHECK(right_shard);
    CHECK(flows == 1000);
    CHECK(dns == 1000);
    CHECK(routing.counters().ring_drops == 0);
    CHECK(routing.wants_dns());
}

TEST_CASE("routing: a shard that holds every batch costs counted drops, never a wait") {
    Channels c(1, 2);  // two batches of 256 records: 512 fit
    pipeline::ShardRouting routing(pipeline::ShardRouter(NetworkSet::private_networks(), 1), c.flows, c.dns_channels);
    const std::vector<FlowRecord> records(1000, flow_from("10.0.0.1", "198.51.100.1"));
    routing.deliver({}, records, 1);
    routing.tick(UINT64_MAX);
    const auto delivered = drain(c.flows[0], [](const FlowRecord&) {});
    CHECK(delivered == 512);
    CHECK(delivered + routing.counters().ring_drops == records.size());  // exact
}

TEST_CASE("routing: a partly filled batch waits for the batch age, then leaves") {
    Channels c(1, 8);
    pipeline::ShardRouting routing(pipeline::ShardRouter(NetworkSet::private_networks(), 1), c.flows, c.dns_channels);
    const std::vector<FlowRecord> records(3, flow_from("10.0.0.1", "198.51.100.1"));
    routing.deliver({}, records, 10'000'000);
    CHECK(routing.holding());
    routing.tick(10'000'000 + kMaxBatchAgeNs - 1);
    CHECK(c.flows[0]->queued() == 0);
    routing.tick(10'000'000 + kMaxBatchAgeNs);
    CHECK(c.flows[0]->queued() == 1);
    CHECK_FALSE(routing.holding());
}

TEST_CASE("routing: without DNS channels nothing wants DNS and events are not counted as drops") {
    Channels c(2, 8, false);
    pipeline::ShardRouting routing(pipeline::ShardRouter(NetworkSet::private_networks(), 2), c.flows, {});
    CHECK_FALSE(routing.wants_dns());
    const std::vector<DnsEvent> events{dns_for("10.0.0.1", "a.example")};
    routing.deliver(events, {}, 1);
    CHECK(routing.counters().dns_drops == 0);
}
