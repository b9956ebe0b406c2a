// Analyzer throughput: flow records per second through every detector on one core. The mix: 5,000 internal
// clients talking to 50,000 external peers (most series short-lived, some long), 5% of flows to allow-listed
// ports, one DNS event per 20 flows so names resolve. Report: items_per_second = flows/s.
#include <flowguard/analyzer/analyzer.hpp>

#include <benchmark/benchmark.h>

#include <memory>
#include <random>

using namespace flowguard;

namespace {

struct Workload {
    std::vector<FlowRecord> flows;
    std::vector<DnsEvent> dns;
};

Workload make_workload(std::size_t n) {
    std::mt19937_64 rng(42);
    Workload w;
    w.flows.reserve(n);
    std::uint64_t t = 1'700'000'000'000'000'000ull;
    for (std::size_t i = 0; i < n; ++i) {
        FlowRecord r;
        r.src_addr = IpAddress::from_v4(0x0A000000u + static_cast<std::uint32_t>(rng() % 5000));
        r.dst_addr = IpAddress::from_v4(0x5D000000u + static_cast<std::uint32_t>(rng() % 50000));
        r.src_port = static_cast<std::uint16_t>(32768 + rng() % 28000);
        r.dst_port = (rng() % 20 == 0) ? 123 : 443;
        r.proto = 6;
        r.bytes = 500 + rng() % 5000;
        r.packets = 5;
        t += 200'000 + rng() % 100'000;  // ~4k flows/s of event time
        r.time_flow_start_ns = t;
        w.flows.push_back(r);
        if (i % 20 == 0) {
            DnsEvent e;
            e.response = true;
            e.client = r.src_addr;
            e.server = IpAddress::from_v4(0x0A000035u);
            e.qname.assign("host" + std::to_string(rng() % 20000) + ".example" + std::to_string(rng() % 3000) + ".com");
            e.addresses[0] = r.dst_addr;
            e.address_count = 1;
            e.min_ttl = 300;
            e.time_ns = t - 1'000'000;
            w.dns.push_back(e);
        }
    }
    return w;
}

std::unique_ptr<analyzer::Analyzer> make_engine() {
    auto psl = analyzer::PublicSuffixList::fallback();
    psl.add_rule("com");
    return std::make_unique<analyzer::Analyzer>(AnalyzerConfig{}, NetworkSet::private_networks(), psl,
                                                analyzer::IocList::sunburst());
}

// One record at a time (a batch of one each): what a caller outside the pipeline pays.
void BM_AnalyzerFlows(benchmark::State& state) {
    static const Workload workload = make_workload(1'000'000);
    auto engine = make_engine();
    std::vector<Alert> alerts;
    std::size_t i = 0, d = 0;
    for (auto _ : state) {
        const auto& flow = workload.flows[i];
        if (i % 20 == 0 && d < workload.dns.size()) engine->on_dns(workload.dns[d++], alerts);
        engine->on_flow(flow, alerts);
        alerts.clear();
        if (++i == workload.flows.size()) {
            state.PauseTiming();
            i = 0;
            d = 0;
            engine = make_engine();
            state.ResumeTiming();
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_AnalyzerFlows)->MinTime(3.0);

// As a shard feeds it: the DNS answers of a ring's worth of flows, then those 256 flows. Items are flows.
void BM_AnalyzerBatches(benchmark::State& state) {
    static const Workload workload = make_workload(1'000'000);
    constexpr std::size_t kBatch = 256;
    auto engine = make_engine();
    std::vector<Alert> alerts;
    std::size_t i = 0;
    for (auto _ : state) {
        const std::size_t d0 = (i + 19) / 20, d1 = std::min((i + kBatch + 19) / 20, workload.dns.size());
        if (d0 < d1) engine->on_dns({workload.dns.data() + d0, d1 - d0}, 0, alerts);
        engine->on_flows({workload.flows.data() + i, kBatch}, 0, alerts);
        alerts.clear();
        i += kBatch;
        if (i + kBatch > workload.flows.size()) {
            state.PauseTiming();
            i = 0;
            engine = make_engine();
            state.ResumeTiming();
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBatch));
}
BENCHMARK(BM_AnalyzerBatches)->MinTime(3.0);

}  // namespace

BENCHMARK_MAIN();
