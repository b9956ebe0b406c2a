#include <flowguard/collector/pcap_datagrams.hpp>
#include <flowguard/collector/udp_receiver.hpp>

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

using namespace flowguard;

TEST_CASE("kernel drop readings count forward moves only, across the 32-bit wrap") {
    CHECK(collector::kernel_drops_since(100, 250) == 150);
    CHECK(collector::kernel_drops_since(250, 250) == 0);
    // An SO_RXQ_OVFL stamp older than the last SO_MEMINFO reading: nothing, not ~2^32.
    CHECK(collector::kernel_drops_since(251'703, 251'000) == 0);
    CHECK(collector::kernel_drops_since(0xfffffff0u, 0x10u) == 0x20u);
}

TEST_CASE("records of one internal host go to one shard, whichever side it is on") {
    collector::ShardRouter router(NetworkSet::private_networks(), 4);
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
    collector::ShardRouter router(NetworkSet::private_networks(), 8);
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

TEST_CASE("DNS answers in sFlow packet samples reach the shards' DNS channels, counted") {
    const char* fixtures = std::getenv("FLOWGUARD_FIXTURES");
    REQUIRE(fixtures != nullptr);
    CollectorConfig config;
    config.receive_threads = 1;
    constexpr std::size_t kShards = 2;
    std::vector<std::unique_ptr<BatchChannel>> flow_channels;
    std::vector<std::unique_ptr<DnsChannel>> dns_channels;
    std::vector<BatchChannel*> flows;
    std::vector<DnsChannel*> dns;
    for (std::size_t s = 0; s < kShards; ++s) {
        flow_channels.push_back(std::make_unique<BatchChannel>(64));
        dns_channels.push_back(std::make_unique<DnsChannel>(64));
        flows.push_back(flow_channels.back().get());
        dns.push_back(dns_channels.back().get());
    }
    collector::UdpReceiver receiver(config, collector::ShardRouter(NetworkSet::private_networks(), kShards), flows,
                                    dns);
    receiver.open({ListenEndpoint{"127.0.0.1", 0}});
    const int probe = receiver.bound_port(0);  // port 0 was asked for: the kernel chose one
    REQUIRE(probe > 0);

    // Replay the sFlow capture of pmacctd sampling mixed traffic (4 of its samples are DNS answers, as
    // `flowguard analyze` and tshark read them) to the receiver.
    collector::PcapDatagramReader reader(std::string(fixtures) + "/corpus/pmacctd_sflow_mixed.pcap");
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(probe));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::atomic<bool> stop{false};
    std::thread thread([&] { receiver.run(stop); });
    collector::ExportPacket packet;
    std::uint16_t port = 0;
    std::size_t sent = 0;
    while (reader.next(packet, port)) {
        ::sendto(fd, packet.payload.data(), packet.payload.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                 sizeof to);
        if (++sent % 64 == 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));  // stay inside the socket buffer
    }
    ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop.store(true);
    thread.join();

    std::uint64_t delivered = 0;
    bool routed_by_client = true;
    const collector::ShardRouter router(NetworkSet::private_networks(), kShards);
    for (std::size_t s = 0; s < kShards; ++s) {
        while (DnsBatch* batch = dns[s]->consume()) {
            for (std::uint32_t i = 0; i < batch->count; ++i) {
                routed_by_client = routed_by_client && router.shard_of(batch->records[i]) == s &&
                                   batch->records[i].qname.length > 0;  // queries and answers
            }
            delivered += batch->count;
            dns[s]->release(batch);
        }
    }
    CHECK(receiver.counters().dns_events.load() == 4);
    CHECK(delivered + receiver.counters().dns_drops.load() == receiver.counters().dns_events.load());
    CHECK(routed_by_client);
}
