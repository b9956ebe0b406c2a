// The lateral-movement stage at scale: graph memory and update throughput with many hosts and edges.
// Phase 1 (learning) builds the graph: every host reaches `--fanout` others on admin services; phase 2 sends
// records on known edges (a network's everyday admin traffic); phase 3, after learning, sends records of new
// edges through the scoring path (a sweep's worth per source). Prints JSON with bytes per edge (RSS growth),
// edges/s and records/s per core.  build/release/bench/lateral_graph [--hosts 50000] [--edges 2000000]
#include "process_probes.hpp"

#include <flowguard/analyzer/lateral_stage.hpp>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

using namespace flowguard;
using flowguard::bench::rss_kib;
using namespace flowguard::analyzer;

namespace {

constexpr std::uint16_t kPorts[] = {445, 3389, 135, 5985, 22, 1433};
constexpr std::uint64_t kT0 = 1'709'251'200ull * 1'000'000'000ull;

IpAddress host_address(std::uint32_t i) {
    return IpAddress::from_v4(0x0a000000u + 256u + i);  // 10.0.1.0 upwards
}

FlowRecord record(std::uint32_t src, std::uint32_t dst, std::uint16_t port, std::uint64_t t_ns) {
    FlowRecord r;
    r.src_addr = host_address(src);
    r.dst_addr = host_address(dst);
    r.src_port = 50000;
    r.dst_port = port;
    r.proto = 6;
    r.bytes = 1500;
    r.packets = 3;
    r.time_flow_start_ns = t_ns;
    r.time_flow_end_ns = t_ns + 1'000'000;
    return r;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app("lateral graph memory and throughput");
    std::uint32_t hosts = 50'000;
    std::uint64_t edges = 2'000'000;
    std::uint64_t updates = 10'000'000;
    app.add_option("--hosts", hosts, "internal hosts");
    app.add_option("--edges", edges, "edges to learn (host x destination x service)");
    app.add_option("--updates", updates, "records on known edges");
    CLI11_PARSE(app, argc, argv);

    LateralConfig config;
    const std::uint64_t fresh = 1'000'000;
    config.max_edges = edges + fresh + edges / 4;  // no eviction here: it is measured by the unit tests' bounds
    config.learning_ns = 7ull * 86'400 * kSecondNs;
    const std::size_t rss_start = rss_kib();
    LateralStage stage(config, NetworkSet::private_networks());
    Alerts alerts;
    std::vector<FlowRecord> batch;
    batch.reserve(256);
    const auto flush = [&] {
        stage.on_flows(batch, 0, alerts);
        batch.clear();
        alerts.clear();
    };
    const std::uint64_t per_host = (edges + hosts - 1) / hosts;
    // Phase 1: learning. Edge e of host h goes to a spread-out destination on one of six services.
    auto start = std::chrono::steady_clock::now();
    std::uint64_t t = kT0;
    std::uint64_t made = 0;
    for (std::uint64_t k = 0; k < per_host && made < edges; ++k) {
        for (std::uint32_t h = 0; h < hosts && made < edges; ++h, ++made) {
            const auto dst = static_cast<std::uint32_t>((h + 1 + k * 7919) % hosts);
            batch.push_back(record(h, dst == h ? (dst + 1) % hosts : dst, kPorts[k % 6], t));
            t += 1'000'000;  // 1 ms apart: two million edges take ~33 minutes of event time
            if (batch.size() == 256) flush();
        }
    }
    flush();
    const double build_s = seconds_since(start);
    const std::size_t rss_built = rss_kib();
    const auto learned = stage.counters();

    // Phase 2: known edges again (everyday traffic).
    start = std::chrono::steady_clock::now();
    for (std::uint64_t i = 0; i < updates; ++i) {
        const auto h = static_cast<std::uint32_t>((i * 2654435761u) % hosts);
        const std::uint64_t k = (i / hosts) % per_host;
        const auto dst = static_cast<std::uint32_t>((h + 1 + k * 7919) % hosts);
        batch.push_back(record(h, dst == h ? (dst + 1) % hosts : dst, kPorts[k % 6], t));
        t += 10'000;
        if (batch.size() == 256) flush();
    }
    flush();
    const double update_s = seconds_since(start);

    // Phase 3: after learning, new edges through the scoring path (sources sweeping new destinations).
    t += config.learning_ns;
    start = std::chrono::steady_clock::now();
    std::uint64_t raised = 0;
    for (std::uint64_t i = 0; i < fresh; ++i) {
        const auto h = static_cast<std::uint32_t>(i % hosts);
        const auto dst = static_cast<std::uint32_t>((h + 3 + (i / hosts + per_host + 5) * 104729) % hosts);
        batch.push_back(record(h, dst, kPorts[(i / hosts) % 6], t));
        t += 1'000'000;
        if (batch.size() == 256) {
            stage.on_flows(batch, 0, alerts);
            raised += alerts.size();
            batch.clear();
            alerts.clear();
        }
    }
    flush();
    const double fresh_s = seconds_since(start);
    const auto after = stage.counters();

    std::printf(
        "{\"hosts\":%llu,\"edges\":%llu,\"rss_start_kib\":%zu,\"rss_built_kib\":%zu,\"bytes_per_edge\":%.1f,"
        "\"learn_edges_per_s\":%.0f,\"known_edge_records_per_s\":%.0f,\"new_edge_records_per_s\":%.0f,"
        "\"edges_after\":%llu,\"evictions\":%llu,\"alerts_raised\":%llu,\"rss_end_kib\":%zu}\n",
        static_cast<unsigned long long>(learned.hosts), static_cast<unsigned long long>(learned.edges), rss_start,
        rss_built, static_cast<double>(rss_built - rss_start) * 1024.0 / static_cast<double>(learned.edges),
        static_cast<double>(made) / build_s, static_cast<double>(updates) / update_s,
        static_cast<double>(fresh) / fresh_s, static_cast<unsigned long long>(after.edges),
        static_cast<unsigned long long>(after.edge_evictions), static_cast<unsigned long long>(raised), rss_kib());
    return 0;
}
