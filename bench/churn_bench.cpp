// Long-run churn: is the cost per packet the same at the fiftieth million as at the first? Runs the meter on
// synthetic packets (no capture I/O) whose flows start, go quiet, expire and come back with the same 5-tuples
// (a meter's normal life), and the analyzer on the records the meter emits, and prints the CPU cost of each
// window of packets. A long-lived hash table whose probes drift (Boost 1.81's flat maps keep overflow marks
// after erasures) or a check whose cost grows with the table shows as a rising column.
//
//   churn_bench [--packets 50000000] [--flows 2000000] [--window 5000000] [--no-analyzer]
//
// 200,000 flows are in flight at a time, each round of 1 M packets (25 s of packet time) moves on to the next
// 200,000 5-tuples of the pool, and the pool (--flows) goes round: with the defaults every 5-tuple comes back
// 5 times, 10 M flows are created and ended, and the table holds ~200,000-400,000 flows throughout.
//   churn_bench --raw-map [--packets N] [--flows N]   the bare flat map under insert/erase churn, with and
//                                                      without the periodic rebuild (ChurnCounter)
#include "process_probes.hpp"

#include <flowguard/analyzer/analyzer.hpp>
#include <flowguard/collector/flow_meter.hpp>
#include <flowguard/core/flat_map_rebuild.hpp>

#include <boost/unordered/unordered_flat_map.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

using namespace flowguard;
using flowguard::bench::cpu_seconds;

namespace {

struct Options {
    std::uint64_t packets = 50'000'000;
    std::uint64_t flows = 2'000'000;  // distinct 5-tuples; each comes back after its flow expired
    std::uint64_t window = 5'000'000;
    bool analyzer = true;
    bool raw_map = false;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&] { return i + 1 < argc ? std::strtoull(argv[++i], nullptr, 10) : 0ull; };
        if (a == "--packets")
            o.packets = next();
        else if (a == "--flows")
            o.flows = next();
        else if (a == "--window")
            o.window = next();
        else if (a == "--no-analyzer")
            o.analyzer = false;
        else if (a == "--raw-map")
            o.raw_map = true;
    }
    return o;
}

// Flow i of the pool: an internal client (65,536 of them) to an external server, ports from i.
collector::PacketView packet_of(std::uint64_t flow, std::uint64_t n) {
    collector::PacketView p;
    const auto i = static_cast<std::uint32_t>(flow);
    p.src = IpAddress::from_v4(0x0a000000u | (i & 0xffffu));
    p.dst = IpAddress::from_v4(0x5d000000u | ((i * 2654435761u) >> 12 & 0xfffffu));
    p.src_port = static_cast<std::uint16_t>(1024 + (i >> 16) % 60000);
    p.dst_port = (i % 10 == 0) ? 53 : 443;
    p.proto = (i % 10 == 0) ? 17 : 6;
    p.ip_version = 4;
    p.etype = 0x0800;
    p.tcp_flags = p.proto == 6 ? 0x10 : 0;
    p.l3_length = static_cast<std::uint32_t>(60 + n % 1400);
    return p;
}

// Each packet belongs to one of `active` flows in flight; a flow lasts a few packets, then its 5-tuple rests
// (expires after the idle timeout) and comes back later, so the table erases and inserts all the time while
// its size stays about constant.
int run_pipeline(const Options& o) {
    MeterConfig meter_config;
    meter_config.max_flows = 1u << 20;
    collector::FlowMeter meter(meter_config, IpAddress{});
    auto psl = analyzer::PublicSuffixList::fallback();
    analyzer::Analyzer engine(AnalyzerConfig{}, NetworkSet::private_networks(), psl, analyzer::IocList::sunburst());
    std::vector<FlowRecord> records;
    std::vector<Alert> alerts;
    std::mt19937_64 rng(7);
    const std::uint64_t in_flight = 200'000;  // 5 packets per flow on average
    std::uint64_t t = 1'700'000'000'000'000'000ull;
    const std::uint64_t step_ns = 25'000;  // 40k packets per second of packet time
    double window_start = cpu_seconds();
    std::uint64_t window_records = 0;
    fmt::print("{:>12} {:>10} {:>12} {:>10} {:>10}\n", "packets", "ns/packet", "records", "flows", "timers");
    for (std::uint64_t n = 1; n <= o.packets; ++n) {
        t += step_ns;
        // The flow of this packet: slot s carries pool flows s, s + in_flight, ... round by round, so a
        // 5-tuple returns once the pool has gone round (its flow long expired).
        const std::uint64_t slot = rng() % in_flight;
        const std::uint64_t round = (n / (in_flight * 5)) % (o.flows / in_flight);  // every 25 s of packet time
        meter.add(packet_of(slot + round * in_flight, n), t, records);
        if (records.size() >= 256) {
            window_records += records.size();
            if (o.analyzer) engine.on_flows(records, t, alerts);
            records.clear();
            alerts.clear();
        }
        if (n % o.window == 0) {
            const double now = cpu_seconds();
            fmt::print("{:>12} {:>10.1f} {:>12} {:>10} {:>10}\n", n, (now - window_start) * 1e9 / double(o.window),
                       window_records, meter.active_flows(), meter.timer_entries());
            window_start = now;
            window_records = 0;
        }
    }
    return 0;
}

// The bare table: a constant population with one erase and one insert of a new key per operation.
template <bool kRebuild>
void raw_map_run(const Options& o) {
    boost::unordered_flat_map<std::uint64_t, std::uint64_t> map;
    ChurnCounter churn;
    const std::uint64_t population = std::min<std::uint64_t>(o.flows, 1u << 20);
    map.reserve(population);
    std::uint64_t next = 0;
    for (; next < population; ++next) map.emplace(next * 0x9e3779b97f4a7c15ull, next);
    double window_start = cpu_seconds();
    fmt::print("{} rebuild:\n{:>12} {:>10}\n", kRebuild ? "with" : "without", "operations", "ns/op");
    for (std::uint64_t n = 1; n <= o.packets; ++n, ++next) {
        map.erase((next - population) * 0x9e3779b97f4a7c15ull);
        if constexpr (kRebuild) churn.erased(map);
        map.emplace(next * 0x9e3779b97f4a7c15ull, next);
        if (n % o.window == 0) {
            const double now = cpu_seconds();
            fmt::print("{:>12} {:>10.1f}\n", n, (now - window_start) * 1e9 / double(o.window));
            window_start = now;
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    if (o.window == 0 || o.flows < 200'000) {
        fmt::print(stderr, "--window must be > 0 and --flows at least 200000\n");
        return 2;
    }
    if (o.raw_map) {
        raw_map_run<false>(o);
        raw_map_run<true>(o);
        return 0;
    }
    return run_pipeline(o);
}
