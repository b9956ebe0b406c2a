// Relays: attribution of a proxy's outbound connections to its clients by time, learning proxies, the config.
#include <flowguard/analyzer/relays.hpp>
#include <flowguard/core/config.hpp>

#include <doctest/doctest.h>

#include <vector>

using namespace flowguard;
using namespace flowguard::analyzer;

namespace {

constexpr std::uint64_t kS = 1'000'000'000ull;
constexpr std::uint64_t kT0 = 1'709'251'200ull * kS;

IpAddress ip(const char* text) {
    return *IpAddress::parse(text);
}

RelayConfig proxy_at(const char* address) {
    RelayConfig config;
    config.relays.push_back({ip(address), {3128}});
    return config;
}

RelayedStart upstream_of(const char* relay, const char* server, std::uint64_t t) {
    RelayedStart s;
    s.relay = ip(relay);
    s.server = ip(server);
    s.time_ns = t;
    s.port = 443;
    s.proto = 6;
    return s;
}

std::vector<RelayedStart> decide_all(Relays& relays) {
    std::vector<RelayedStart> out;
    relays.decide(UINT64_MAX, out);
    return out;
}

}  // namespace

TEST_CASE("relays: a proxy's upstream connection is its client's when one client connected just before") {
    Relays relays(proxy_at("10.0.0.8"));
    CHECK(relays.proxies(ip("10.0.0.8")));
    CHECK_FALSE(relays.is_relay(ip("10.0.0.9")));
    relays.internal_connection(ip("10.1.0.5"), 50000, ip("10.0.0.8"), 3128, kT0);
    relays.internal_connection(ip("10.1.0.5"), 50000, ip("10.0.0.8"), 3128, kT0 + 1'000'000);  // its answer record
    relays.upstream(upstream_of("10.0.0.8", "198.51.100.7", kT0 + 150'000'000));
    std::vector<RelayedStart> out;
    relays.decide(kT0 + 30 * kS, out);  // still waiting for late client records
    CHECK(out.empty());
    relays.decide(kT0 + 61 * kS, out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].client == ip("10.1.0.5"));
    CHECK(out[0].server == ip("198.51.100.7"));
    CHECK(relays.counters().attributed == 1);

    // The client connection is used up: a second upstream right after it is the relay's own.
    relays.upstream(upstream_of("10.0.0.8", "198.51.100.8", kT0 + 300'000'000));
    out = decide_all(relays);
    REQUIRE(out.size() == 1);
    CHECK(out[0].client.empty());
    CHECK(relays.counters().unattributed == 1);
}

TEST_CASE("relays: two clients in the window leave the upstream unattributed; a late client record still counts") {
    Relays relays(proxy_at("10.0.0.8"));
    relays.internal_connection(ip("10.1.0.5"), 50000, ip("10.0.0.8"), 3128, kT0);
    relays.internal_connection(ip("10.1.0.6"), 50001, ip("10.0.0.8"), 3128, kT0 + 500'000'000);
    relays.upstream(upstream_of("10.0.0.8", "198.51.100.7", kT0 + 900'000'000));
    auto out = decide_all(relays);
    REQUIRE(out.size() == 1);
    CHECK(out[0].client.empty());

    // Exporters send records when flows end: the upstream's record may come before its client's.
    relays.upstream(upstream_of("10.0.0.8", "198.51.100.9", kT0 + 100 * kS + 200'000'000));
    relays.internal_connection(ip("10.1.0.7"), 50002, ip("10.0.0.8"), 3128, kT0 + 100 * kS);
    out = decide_all(relays);
    REQUIRE(out.size() == 1);
    CHECK(out[0].client == ip("10.1.0.7"));

    // Outside the window (2 s by default): the relay's own.
    relays.internal_connection(ip("10.1.0.7"), 50003, ip("10.0.0.8"), 3128, kT0 + 200 * kS);
    relays.upstream(upstream_of("10.0.0.8", "198.51.100.9", kT0 + 203 * kS));
    out = decide_all(relays);
    REQUIRE(out.size() == 1);
    CHECK(out[0].client.empty());
}

TEST_CASE("relays: a busy proxy's waiting upstreams stay bounded") {
    Relays relays(proxy_at("10.0.0.8"));
    std::vector<RelayedStart> out;
    for (std::uint64_t i = 0; i < 10 * Relays::kRecent; ++i) {
        relays.upstream(upstream_of("10.0.0.8", "198.51.100.7", kT0 + i * 1'000'000));
        if (relays.decide_due(kT0 + i * 1'000'000)) relays.decide(kT0 + i * 1'000'000, out);
    }
    CHECK(out.size() >= 9 * Relays::kRecent);  // decided early, not kept
    out.clear();
    relays.decide(UINT64_MAX, out);
    CHECK(out.size() <= Relays::kRecent + 1);
}

TEST_CASE("relays: a host many clients connect to on one port and that reaches many destinations is learned") {
    RelayConfig config;  // learning: 3 clients, 10 destinations a day
    Relays relays(config);
    const auto server = ip("10.0.0.20");
    for (int c = 0; c < 2; ++c) {
        const auto client = *IpAddress::parse("10.1.0." + std::to_string(10 + c));
        relays.internal_connection(client, 50000, server, 8080, kT0 + static_cast<std::uint64_t>(c) * kS);
    }
    for (int d = 0; d < 60; ++d)
        relays.outbound_destination(server, *IpAddress::parse("198.51.100." + std::to_string(d + 1)), kT0 + 10 * kS);
    CHECK_FALSE(relays.is_relay(server));  // two clients: a service, not yet a proxy
    relays.internal_connection(ip("10.1.0.20"), 50000, server, 8080, kT0 + 20 * kS);
    for (int d = 0; d < 6; ++d)
        relays.outbound_destination(server, *IpAddress::parse("203.0.113." + std::to_string(d + 1)), kT0 + 30 * kS);
    CHECK_FALSE(relays.is_relay(server));  // 6 destinations since it became a candidate
    for (int d = 6; d < 14; ++d)
        relays.outbound_destination(server, *IpAddress::parse("203.0.113." + std::to_string(d + 1)), kT0 + 40 * kS);
    CHECK(relays.proxies(server));
    CHECK(relays.counters().learned == 1);
    CHECK(relays.counters().relays == 1);

    RelayConfig off;
    off.min_clients = 0;
    Relays never(off);
    for (int c = 0; c < 8; ++c)
        never.internal_connection(*IpAddress::parse("10.1.0." + std::to_string(10 + c)), 50000, server, 8080, kT0);
    for (int d = 0; d < 60; ++d)
        never.outbound_destination(server, *IpAddress::parse("198.51.100." + std::to_string(d + 1)), kT0);
    CHECK_FALSE(never.is_relay(server));
}

TEST_CASE("relays: learning beyond its bound is counted, not silent") {
    Relays relays(RelayConfig{});
    for (std::uint32_t h = 0; h <= Relays::kMaxLearned; ++h) {
        const auto server = IpAddress::from_v4(0x0A140000u + h);
        for (std::uint32_t c = 0; c < 3; ++c)
            relays.internal_connection(IpAddress::from_v4(0x0A010000u + c), 50000, server, 3128, kT0);
        for (std::uint32_t d = 0; d < 40; ++d)
            relays.outbound_destination(server, IpAddress::from_v4(0xC6336400u + d), kT0);
    }
    CHECK(relays.counters().learned == Relays::kMaxLearned);
    CHECK(relays.counters().relays == Relays::kMaxLearned);
    CHECK(relays.counters().learning_overflows == 1);  // the 257th proxy
}

TEST_CASE("relays: configuration errors name the key") {
    auto read = [](const char* text) {
        RelayConfig config;
        read_relay_config(YAML::Load(text), "analyzer.beacon", config);
        return config;
    };
    const auto config = read(
        "{relays: [{address: 10.0.0.8, ports: [3128, 8080]}, {address: '10.9.0.1'}], "
        "relay_threshold: 0.97, relay_min_clients: 0, relay_window: 500ms}");
    REQUIRE(config.relays.size() == 2);
    CHECK(config.relays[0].ports == std::vector<std::uint16_t>{3128, 8080});
    CHECK(config.relays[1].ports.empty());  // a NAT gateway
    CHECK(config.threshold == doctest::Approx(0.97));
    CHECK(config.min_clients == 0);
    CHECK(config.window_ns == 500'000'000);
    auto error_key = [&](const char* text) {
        try {
            read(text);
        } catch (const ConfigError& e) {
            return e.key();
        }
        return std::string("no error");
    };
    CHECK(error_key("{relays: [{address: proxy.example}]}") == "analyzer.beacon.relays[0].address");
    CHECK(error_key("{relays: [{ports: [3128]}]}") == "analyzer.beacon.relays[0].address");
    CHECK(error_key("{relays: [{address: 10.0.0.8, ports: [0]}]}") == "analyzer.beacon.relays[0].ports[0]");
    CHECK(error_key("{relays: [{address: 10.0.0.8, port: 3128}]}") == "analyzer.beacon.relays[0].port");
    CHECK(error_key("{relays: 10.0.0.8}") == "analyzer.beacon.relays");
    CHECK(error_key("{relay_min_clients: 1}") == "analyzer.beacon.relay_min_clients");
    CHECK(error_key("{relay_window: 0s}") == "analyzer.beacon.relay_window");
    CHECK(error_key("{relay_threshold: 1.5}") == "analyzer.beacon.relay_threshold");
}
