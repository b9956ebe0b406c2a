#include <flowguard/core/network_set.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <vector>

using namespace flowguard;

TEST_CASE("internal networks") {
    const auto nets = NetworkSet::private_networks();
    CHECK(nets.contains(*IpAddress::parse("10.1.2.3")));
    CHECK(nets.contains(*IpAddress::parse("172.31.255.1")));
    CHECK_FALSE(nets.contains(*IpAddress::parse("172.32.0.1")));
    CHECK(nets.contains(*IpAddress::parse("fd12::1")));
    CHECK_FALSE(nets.contains(*IpAddress::parse("2001:db8::1")));
    CHECK_FALSE(nets.contains(*IpAddress::parse("8.8.8.8")));
    NetworkSet custom;
    custom.add("198.51.100.0/25");
    custom.add("2001:db8:abcd::/48");
    CHECK(custom.contains(*IpAddress::parse("198.51.100.127")));
    CHECK_FALSE(custom.contains(*IpAddress::parse("198.51.100.128")));
    CHECK(custom.contains(*IpAddress::parse("2001:db8:abcd:ffff::1")));
    CHECK_THROWS(custom.add("10.0.0.0/33"));
    CHECK_THROWS(custom.add("example.com"));
}

// The /16 index against a plain scan: prefixes of every length, addresses inside, at the edges and outside.
TEST_CASE("IPv4 lookups through the /16 index equal a scan of the prefixes") {
    std::mt19937 rng(7);
    for (int round = 0; round < 40; ++round) {
        NetworkSet set;
        struct Plain {
            std::uint32_t network, mask;
        };
        std::vector<Plain> plain;
        const int prefixes = 1 + static_cast<int>(rng() % 6);
        for (int i = 0; i < prefixes; ++i) {
            const auto length = static_cast<unsigned>(rng() % 33);
            const std::uint32_t mask = length == 0 ? 0 : ~std::uint32_t{0} << (32 - length);
            const std::uint32_t network = static_cast<std::uint32_t>(rng()) & mask;
            set.add(IpAddress::from_v4(network).to_string() + "/" + std::to_string(length));
            plain.push_back({network, mask});
        }
        auto expected = [&](std::uint32_t v) {
            for (const auto& p : plain)
                if ((v & p.mask) == p.network) return true;
            return false;
        };
        std::vector<std::uint32_t> probes;
        for (const auto& p : plain) {
            probes.push_back(p.network);
            probes.push_back(p.network | ~p.mask);  // last address inside
            probes.push_back(p.network - 1);        // just before
            probes.push_back((p.network | ~p.mask) + 1);
            probes.push_back(p.network ^ 0x8000u);  // same /16, other half
        }
        for (int i = 0; i < 2000; ++i) probes.push_back(static_cast<std::uint32_t>(rng()));
        for (const auto v : probes) {
            CAPTURE(v);
            CHECK(set.contains(IpAddress::from_v4(v)) == expected(v));
        }
    }
}

TEST_CASE("a /16 that a longer prefix splits answers by the longer prefix, beside whole /16s") {
    NetworkSet set;
    set.add("10.0.0.0/8");
    set.add("192.0.2.128/25");
    set.add("203.0.113.7");
    CHECK(set.contains(*IpAddress::parse("10.255.255.255")));
    CHECK_FALSE(set.contains(*IpAddress::parse("11.0.0.0")));
    CHECK(set.contains(*IpAddress::parse("192.0.2.200")));
    CHECK_FALSE(set.contains(*IpAddress::parse("192.0.2.100")));
    CHECK_FALSE(set.contains(*IpAddress::parse("192.0.3.200")));
    CHECK(set.contains(*IpAddress::parse("203.0.113.7")));
    CHECK_FALSE(set.contains(*IpAddress::parse("203.0.113.8")));
    CHECK_FALSE(set.contains(IpAddress{}));
    NetworkSet everything;
    everything.add("0.0.0.0/0");
    CHECK(everything.contains(*IpAddress::parse("255.255.255.255")));
    CHECK_FALSE(everything.contains(*IpAddress::parse("::1")));  // an IPv4 prefix never holds IPv6
}
