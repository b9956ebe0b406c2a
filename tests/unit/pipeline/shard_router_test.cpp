#include <flowguard/pipeline/shard_router.hpp>

#include <doctest/doctest.h>

#include <array>

using namespace flowguard;

TEST_CASE("records of one internal host go to one shard, whichever side it is on") {
    pipeline::ShardRouter router(NetworkSet::private_networks(), 4);
    FlowRecord out;
    out.src_addr = *IpAddress::parse("10.0.0.5");
    out.dst_addr = *IpAddress::parse("198.51.100.7");
    FlowRecord back;
    back.src_addr = *IpAddress::parse("198.51.100.7");
    back.dst_addr = *IpAddress::parse("10.0.0.5");
    FlowRecord other_peer;
    other_peer.src_addr = *IpAddress::parse("203.0.113.9");
    other_peer.dst_addr = *IpAddress::parse("10.0.0.5");
    CHECK(router.shard_of(out) == router.shard_of(back));
    CHECK(router.shard_of(out) == router.shard_of(other_peer));
    // Many hosts spread over every shard.
    std::array<int, 4> per_shard{};
    for (std::uint32_t i = 0; i < 4000; ++i) {
        FlowRecord r;
        r.src_addr = IpAddress::from_v4(0x0a000000u + i);
        r.dst_addr = *IpAddress::parse("8.8.8.8");
        ++per_shard[router.shard_of(r)];
    }
    for (int n : per_shard) CHECK(n > 700);
}

TEST_CASE("a DNS event goes to the shard of the client that asked, where that client's flows go") {
    pipeline::ShardRouter router(NetworkSet::private_networks(), 8);
    for (std::uint32_t i = 0; i < 200; ++i) {
        DnsEvent answer;
        answer.client = IpAddress::from_v4(0x0a000000u + i * 7);
        answer.server = *IpAddress::parse("10.0.0.53");  // the resolver must not decide the shard
        FlowRecord outbound;
        outbound.src_addr = answer.client;
        outbound.dst_addr = *IpAddress::parse("198.51.100.7");
        CHECK(router.shard_of(answer) == router.shard_of(outbound));
    }
}
