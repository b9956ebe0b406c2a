// Decode cost per record on one core, through FlowDecoder (templates already known, as in steady state).
// Run: build/release/bench/decode_bench   (docs/PERFORMANCE.md has the figures and the command)
#include "export_encoder.hpp"

#include <flowguard/collector/flow_decoder.hpp>

#include <benchmark/benchmark.h>

using namespace flowguard;

namespace {

// Where each export version keeps its sequence number, and what it counts.
std::size_t sequence_offset(bench::ExportVersion version) {
    switch (version) {
        case bench::ExportVersion::v5:
            return 16;  // flows
        case bench::ExportVersion::v9:
            return 12;  // export packets
        default:
            return 8;  // IPFIX: data records
    }
}

void add_to_be32(std::vector<std::uint8_t>& p, std::size_t offset, std::uint32_t add) {
    const std::uint32_t v = ((std::uint32_t{p[offset]} << 24) | (std::uint32_t{p[offset + 1]} << 16) |
                             (std::uint32_t{p[offset + 2]} << 8) | p[offset + 3]) +
                            add;
    for (int i = 0; i < 4; ++i) p[offset + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}

// Each exporter has its own encoder (and templates); with `exporters` > 1 consecutive packets come from
// different exporters, so nothing carried from the previous packet (the decoder's last-stream check)
// helps. Every round moves each exporter's sequence numbers on by what it sent, as a live exporter does:
// replaying the same numbers would make every round look like reordering to the sequence trackers.
void decode_records(benchmark::State& state, bench::ExportVersion version, int exporters = 1) {
    constexpr int kPackets = 256;
    const auto per_exporter = static_cast<std::size_t>(kPackets / exporters);
    std::vector<std::vector<std::uint8_t>> packets(kPackets);
    std::vector<std::uint32_t> advance(static_cast<std::size_t>(exporters), 0);  // per round, per exporter
    std::uint64_t records_per_round = 0;
    for (std::size_t e = 0; e < advance.size(); ++e) {
        bench::ExportEncoder encoder(version, static_cast<std::uint32_t>(42 + e), 0, kPackets * 2);  // templates once
        for (std::size_t k = 0; k < per_exporter; ++k) {
            const auto n = encoder.next(packets[k * advance.size() + e], 1'700'000'000);
            records_per_round += n;
            advance[e] += version == bench::ExportVersion::v9 ? 1 : n;
        }
    }
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    out.reserve(4096);
    collector::ExportPacket packet;
    packet.exporter_port = 9999;
    packet.received_ns = 1'700'000'000'000'000'000ull;
    const auto exporter_of = [&](std::size_t i) {
        return IpAddress::from_v4(0x7f000001u + static_cast<std::uint32_t>(i % advance.size()));
    };
    const auto round = [&] {
        for (std::size_t i = 0; i < packets.size(); ++i) {
            packet.exporter = exporter_of(i);
            packet.payload = packets[i];
            out.clear();
            decoder.decode(packet, out);
            benchmark::DoNotOptimize(out.data());
            add_to_be32(packets[i], sequence_offset(version), advance[i % advance.size()]);
        }
    };
    round();  // warm-up: every exporter learns its templates
    for (auto _ : state) round();
    const auto totals = decoder.totals();
    state.counters["sequence_anomalies"] =
        static_cast<double>(totals.sequence_lost + totals.sequence_reordered + totals.sequence_duplicate);
    // items_per_second is records per second: ns per record = 1e9 / items_per_second.
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * records_per_round));
}

}  // namespace

BENCHMARK_CAPTURE(decode_records, netflow_v5, bench::ExportVersion::v5);
BENCHMARK_CAPTURE(decode_records, netflow_v9, bench::ExportVersion::v9);
BENCHMARK_CAPTURE(decode_records, ipfix_fixed, bench::ExportVersion::ipfix);
BENCHMARK_CAPTURE(decode_records, ipfix_varlen, bench::ExportVersion::ipfix_varlen);
BENCHMARK_CAPTURE(decode_records, ipfix_fixed_4_exporters_interleaved, bench::ExportVersion::ipfix, 4);
BENCHMARK_MAIN();
