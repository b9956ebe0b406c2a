#include <flowguard/collector/pcap_datagrams.hpp>
#include <flowguard/collector/udp_receiver.hpp>
#include <flowguard/core/stage.hpp>

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <span>
#include <thread>
#include <vector>

using namespace flowguard;

TEST_CASE("kernel drop readings count forward moves only, across the 32-bit wrap") {
    CHECK(collector::kernel_drops_since(100, 250) == 150);
    CHECK(collector::kernel_drops_since(250, 250) == 0);
    // An SO_RXQ_OVFL stamp older than the last SO_MEMINFO reading: nothing, not ~2^32.
    CHECK(collector::kernel_drops_since(251'703, 251'000) == 0);
    CHECK(collector::kernel_drops_since(0xfffffff0u, 0x10u) == 0x20u);
}

namespace {

// A receive thread's sink: what it delivered (read after the thread ended), and its last tick.
class Delivered final : public RecordSink {
public:
    explicit Delivered(bool dns) : dns_(dns) {}
    void deliver(std::span<const DnsEvent> dns, std::span<const FlowRecord> flows, std::uint64_t) override {
        events.insert(events.end(), dns.begin(), dns.end());
        records += flows.size();
        ++calls;
    }
    void tick(std::uint64_t now_ns) override { last_tick = now_ns; }
    bool wants_dns() const override { return dns_; }

    std::vector<DnsEvent> events;
    std::size_t records = 0;
    std::size_t calls = 0;
    std::uint64_t last_tick = 0;

private:
    bool dns_;
};

// Replays a capture's datagrams to a receiver on 127.0.0.1 and stops it: what its sink got.
std::size_t replay(const std::string& capture, collector::UdpReceiver& receiver, Delivered& sink) {
    receiver.open({ListenEndpoint{"127.0.0.1", 0}});
    const int probe = receiver.bound_port(0);  // port 0 was asked for: the kernel chose one
    REQUIRE(probe > 0);
    collector::PcapDatagramReader reader(capture);
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(probe));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::atomic<bool> stop{false};
    std::thread thread([&] { receiver.run(stop, sink); });
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
    return sent;
}

}  // namespace

TEST_CASE("DNS answers in sFlow packet samples are delivered with their datagram's records, counted") {
    const char* fixtures = std::getenv("FLOWGUARD_FIXTURES");
    REQUIRE(fixtures != nullptr);
    CollectorConfig config;
    config.receive_threads = 1;
    collector::UdpReceiver receiver(config);
    Delivered sink(true);
    // The sFlow capture of pmacctd sampling mixed traffic: 4 of its samples are DNS answers, as `flowguard
    // analyze` and tshark read them.
    const auto sent = replay(std::string(fixtures) + "/corpus/pmacctd_sflow_mixed.pcap", receiver, sink);
    const auto published = receiver.published();
    CHECK(published.counters.dns_events == 4);
    CHECK(sink.events.size() == published.counters.dns_events);
    bool named = true;
    for (const auto& e : sink.events) named = named && e.qname.length > 0;  // queries and answers
    CHECK(named);
    CHECK(published.counters.datagrams == sent);
    CHECK(sink.records == published.counters.records);
    CHECK(sink.records == published.decoder.totals.records);
    CHECK(sink.calls == sent);            // one delivery per datagram
    CHECK(sink.last_tick == UINT64_MAX);  // at the end, everything held leaves
}

TEST_CASE("a receiver whose sink reads no DNS does not extract it") {
    const char* fixtures = std::getenv("FLOWGUARD_FIXTURES");
    REQUIRE(fixtures != nullptr);
    CollectorConfig config;
    collector::UdpReceiver receiver(config);
    Delivered sink(false);
    replay(std::string(fixtures) + "/corpus/pmacctd_sflow_mixed.pcap", receiver, sink);
    CHECK(sink.events.empty());
    CHECK(receiver.published().counters.dns_events == 0);
    CHECK(sink.records > 0);
}
