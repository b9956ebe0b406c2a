// The meter against the crafted truth: for every one-way 5-tuple in the corpus captures, packets, layer-3
// bytes and first/last times equal what the traffic generator wrote (tests/fixtures/corpus/truth_crafted.csv).
#include <flowguard/collector/span_meter.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

using namespace flowguard;
using namespace flowguard::collector;

namespace {

using Key = std::tuple<std::string, std::string, unsigned, unsigned, unsigned>;  // src dst sport dport proto
struct Totals {
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
    double first = 1e300;
    double last = 0;
};

std::string fixture(const std::string& relative) {
    const char* root = std::getenv("FLOWGUARD_FIXTURES");
    REQUIRE(root != nullptr);
    return std::string(root) + "/" + relative;
}

std::map<Key, Totals> truth(const std::string& scenario) {
    std::ifstream in(fixture("corpus/truth_crafted.csv"));
    REQUIRE(in.good());
    std::map<Key, Totals> out;
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
        std::stringstream row(line);
        std::vector<std::string> f;
        for (std::string cell; std::getline(row, cell, ',');) f.push_back(cell);
        if (f.size() < 10 || f[0] != scenario) continue;
        Totals& t = out[{f[1], f[2], std::stoul(f[3]), std::stoul(f[4]), std::stoul(f[5])}];
        t.packets += std::stoull(f[6]);
        t.bytes += std::stoull(f[7]);
        t.first = std::min(t.first, std::stod(f[8]));
        t.last = std::max(t.last, std::stod(f[9]));
    }
    return out;
}

std::map<Key, Totals> metered(const std::string& scenario, const MeterConfig& config, SpanMeterStats& stats,
                              std::vector<DnsEvent>& dns) {
    auto capture = PacketCapture::open_file(fixture("corpus/" + scenario + ".pcap"));
    SpanMeter meter(config, IpAddress{});
    std::vector<FlowRecord> flows;
    RawPacket packet;
    while (capture.next(packet) == PacketCapture::Read::packet) meter.process(capture.link_type(), packet, flows, dns);
    meter.flush(flows);
    stats = meter.stats();
    std::map<Key, Totals> out;
    for (const auto& r : flows) {
        Totals& t = out[{r.src_addr.to_string(), r.dst_addr.to_string(), r.src_port, r.dst_port, r.proto}];
        t.packets += r.packets;
        t.bytes += r.bytes;
        t.first = std::min(t.first, static_cast<double>(r.time_flow_start_ns) / 1e9);
        t.last = std::max(t.last, static_cast<double>(r.time_flow_end_ns) / 1e9);
    }
    return out;
}

}  // namespace

TEST_CASE("meter = crafted truth on the corpus captures, with default and with tiny timeouts") {
    for (const char* scenario : {"mixed", "beacon", "lateral"}) {
        for (std::uint64_t idle_s : {15ull, 1ull}) {
            CAPTURE(scenario);
            CAPTURE(idle_s);
            MeterConfig config;
            config.idle_timeout_ns = idle_s * 1'000'000'000ull;
            SpanMeterStats stats;
            std::vector<DnsEvent> dns;
            const auto expected = truth(scenario);
            const auto got = metered(scenario, config, stats, dns);
            REQUIRE(!expected.empty());
            CHECK(got.size() == expected.size());
            for (const auto& [key, want] : expected) {
                CAPTURE(std::get<0>(key));
                CAPTURE(std::get<1>(key));
                CAPTURE(std::get<2>(key));
                CAPTURE(std::get<3>(key));
                const auto it = got.find(key);
                REQUIRE(it != got.end());
                CHECK(it->second.packets == want.packets);
                CHECK(it->second.bytes == want.bytes);
                CHECK(std::fabs(it->second.first - want.first) < 1e-6);
                CHECK(std::fabs(it->second.last - want.last) < 1e-6);
            }
            CHECK(stats.truncated == 0);
            CHECK(stats.malformed == 0);
            CHECK(stats.flows.packets == stats.frames - stats.not_ip);
        }
    }
}

TEST_CASE("passive DNS from the mixed capture: queries and answers as tshark decodes them") {
    MeterConfig config;
    SpanMeterStats stats;
    std::vector<DnsEvent> dns;
    metered("mixed", config, stats, dns);
    // tshark -r mixed.pcap -Y dns -T fields -e dns.qry.name -e dns.flags.response -e dns.a -e dns.resp.ttl
    REQUIRE(dns.size() == 4);
    CHECK(dns[0].qname.view() == "www.example.com");
    CHECK_FALSE(dns[0].response);
    CHECK(dns[0].client.to_string() == "10.0.0.10");
    CHECK(dns[0].server.to_string() == "10.0.0.53");
    CHECK(dns[1].response);
    CHECK(dns[1].address_count == 1);
    CHECK(dns[1].addresses[0].to_string() == "93.184.216.34");
    CHECK(dns[1].min_ttl == 300);
    CHECK(dns[1].client.to_string() == "10.0.0.10");
    CHECK(dns[3].qname.view() == "v6.example.com");
    CHECK(dns[3].client.to_string() == "2001:db8::10");
    CHECK(stats.dns_errors == 0);
}

TEST_CASE("a full flow table evicts the stalest flows and counts them") {
    MeterConfig config;
    config.max_flows = 16;
    SpanMeterStats stats;
    std::vector<DnsEvent> dns;
    const auto got = metered("lateral", config, stats, dns);
    CHECK(stats.flows.evictions > 0);
    std::uint64_t packets = 0;
    for (const auto& [key, t] : got) packets += t.packets;
    CHECK(packets == stats.flows.packets);  // evicted flows are reported, not lost
}
