// The meter's flow table against a plain model of its rules (every flow checked at every sweep, once per
// second of packet time): the expiry wheel must end the same flows, for the same reasons, at the same packet,
// whatever the timing - dense bursts, captures whose packets are hours apart, FIN/RST, packets out of order,
// active-timeout splits. And memory for its timers stays proportional to the table under eviction churn.
#include <flowguard/collector/flow_meter.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <tuple>
#include <vector>

using namespace flowguard;
using namespace flowguard::collector;

namespace {

constexpr std::uint64_t kSecond = 1'000'000'000;
constexpr std::uint64_t kStart = 1'700'000'000 * kSecond;

// What a record says, in an order that does not depend on when within a sweep it was emitted.
using Outcome = std::tuple<std::string, std::uint16_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t,
                           std::uint8_t, std::uint8_t, std::uint64_t>;

Outcome outcome(const FlowRecord& r) {
    return {r.src_addr.to_string(),
            r.src_port,
            r.time_flow_start_ns,
            r.time_flow_end_ns,
            r.packets,
            r.bytes,
            r.tcp_flags,
            r.flow_end_reason,
            r.time_received_ns};
}

// The rules as documented, the slow way.
class ModelMeter {
public:
    explicit ModelMeter(const MeterConfig& c) : c_(c) {}

    void add(const PacketView& p, std::uint64_t t, std::vector<Outcome>& out) {
        clock_ = std::max(clock_, t);
        if (clock_ >= next_sweep_) {
            sweep(clock_, out);
            next_sweep_ = clock_ + kSecond;
        }
        const auto key = std::make_pair(p.src.to_string(), p.src_port);
        auto it = flows_.find(key);
        if (it != flows_.end() && t >= it->second.first + c_.active_timeout_ns) {
            emit(key, it->second, 2, t, out);
            flows_.erase(it);
            it = flows_.end();
        }
        if (it == flows_.end()) it = flows_.emplace(key, Flow{t, t}).first;
        Flow& f = it->second;
        f.first = std::min(f.first, t);
        f.last = std::max(f.last, t);
        ++f.packets;
        f.bytes += p.l3_length;
        f.flags |= p.tcp_flags;
        if (p.tcp_flags & 0x05) f.ended = true;
    }
    void sweep(std::uint64_t now, std::vector<Outcome>& out) {
        for (auto it = flows_.begin(); it != flows_.end();) {
            const Flow& f = it->second;
            std::uint8_t reason = 0;
            if (f.ended && now >= f.last + c_.tcp_end_timeout_ns)
                reason = 3;
            else if (now >= f.last + c_.idle_timeout_ns)
                reason = 1;
            else if (now >= f.first + c_.active_timeout_ns)
                reason = 2;
            if (reason == 0) {
                ++it;
                continue;
            }
            emit(it->first, f, reason, now, out);
            it = flows_.erase(it);
        }
    }
    void flush(std::vector<Outcome>& out) {
        for (const auto& [key, f] : flows_) emit(key, f, f.ended ? 3 : 4, clock_, out);
        flows_.clear();
    }

private:
    struct Flow {
        std::uint64_t first, last, packets = 0, bytes = 0;
        std::uint8_t flags = 0;
        bool ended = false;
    };
    void emit(const std::pair<std::string, std::uint16_t>& key, const Flow& f, std::uint8_t reason, std::uint64_t now,
              std::vector<Outcome>& out) {
        out.emplace_back(key.first, key.second, f.first, f.last, f.packets, f.bytes, f.flags, reason, now);
    }

    MeterConfig c_;
    std::map<std::pair<std::string, std::uint16_t>, Flow> flows_;
    std::uint64_t clock_ = 0, next_sweep_ = 0;
};

PacketView packet(std::uint32_t host, std::uint16_t port, std::uint8_t flags, std::uint32_t length) {
    PacketView p;
    p.src = IpAddress::from_v4(0x0a000000 | host);
    p.dst = IpAddress::from_v4(0xc6336401);
    p.src_port = port;
    p.dst_port = 443;
    p.proto = 6;
    p.ip_version = 4;
    p.etype = 0x0800;
    p.tcp_flags = flags;
    p.l3_length = length;
    return p;
}

// Packets of a few hundred 5-tuples with gaps drawn from the timing mix of `style`.
void compare_with_model(unsigned seed, int style) {
    MeterConfig config;
    config.active_timeout_ns = 60 * kSecond;
    config.idle_timeout_ns = 15 * kSecond;
    config.tcp_end_timeout_ns = 2 * kSecond;
    FlowMeter meter(config, IpAddress{});
    ModelMeter model(config);
    std::mt19937_64 rng(seed);
    std::vector<FlowRecord> records;
    std::vector<Outcome> expected;
    std::uint64_t t = kStart;
    for (int i = 0; i < 40'000; ++i) {
        const auto roll = rng() % 1000;
        std::uint64_t gap = 0;
        if (style == 0) gap = rng() % (20 * 1'000'000);                                     // dense: up to 20 ms
        if (style == 1) gap = roll < 990 ? rng() % (2 * kSecond) : rng() % (40 * kSecond);  // office
        if (style == 2) gap = roll < 5 ? 3 * 3600 * kSecond : rng() % (30 * kSecond);       // sparse, hours apart
        t += gap;
        // Now and then a packet a little out of order, as captures merged from several taps are.
        const std::uint64_t when = roll % 97 == 0 && t > kStart + 3 * kSecond ? t - rng() % (3 * kSecond) : t;
        const auto host = static_cast<std::uint32_t>(rng() % 300);
        const auto flags = static_cast<std::uint8_t>(roll % 53 == 0 ? 0x01 : roll % 71 == 0 ? 0x04 : 0x10);
        const auto p =
            packet(host, static_cast<std::uint16_t>(40000 + host % 7), flags, static_cast<std::uint32_t>(40 + roll));
        meter.add(p, when, records);
        model.add(p, when, expected);
    }
    meter.flush(records);
    model.flush(expected);
    std::vector<Outcome> got;
    for (const auto& r : records) got.push_back(outcome(r));
    std::sort(got.begin(), got.end());
    std::sort(expected.begin(), expected.end());
    CHECK(got.size() == expected.size());
    CHECK(got == expected);
}

}  // namespace

TEST_CASE("the meter ends the same flows as a sweep of every flow each second, whatever the timing") {
    for (unsigned seed = 1; seed <= 4; ++seed) {
        for (int style = 0; style < 3; ++style) {
            CAPTURE(seed);
            CAPTURE(style);
            compare_with_model(seed, style);
        }
    }
}

TEST_CASE("a FIN brings the flow's end forward; a flow split by its active timeout restarts in the same table") {
    MeterConfig config;
    config.active_timeout_ns = 10 * kSecond;
    FlowMeter meter(config, IpAddress{});
    std::vector<FlowRecord> out;
    meter.add(packet(1, 1000, 0x02, 60), kStart, out);
    meter.add(packet(1, 1000, 0x11, 60), kStart + kSecond, out);  // FIN: ends 2 s after, not 15
    meter.add(packet(2, 2000, 0x10, 60), kStart + 3 * kSecond + 1, out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].flow_end_reason == static_cast<std::uint8_t>(FlowEndReason::end_of_flow));
    CHECK(out[0].packets == 2);
    out.clear();
    for (int s = 4; s <= 25; ++s) meter.add(packet(2, 2000, 0x10, 60), kStart + s * kSecond, out);
    REQUIRE(out.size() == 2);  // host 2's flow, from 3 s on, is reported at 14 s and 24 s (active timeout 10 s)
    CHECK(out[0].flow_end_reason == static_cast<std::uint8_t>(FlowEndReason::active));
    CHECK(meter.active_flows() == 1);
}

TEST_CASE("timers stay proportional to the table while a full table evicts flows by the thousand") {
    MeterConfig config;
    config.max_flows = 1000;
    FlowMeter meter(config, IpAddress{});
    std::vector<FlowRecord> out;
    for (std::uint32_t i = 0; i < 200'000; ++i) {
        meter.add(packet(i, static_cast<std::uint16_t>(i), 0x02, 60), kStart + i * 1000, out);
        out.clear();
    }
    CHECK(meter.active_flows() <= 1000);
    CHECK(meter.stats().evictions >= 199'000);
    CHECK(meter.timer_entries() <= 2 * 1000 + 4096 + 1);
}
