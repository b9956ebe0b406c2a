// Decode cost per record on one core, through FlowDecoder (templates already known, as in steady state).
// Run: build/release/bench/decode_bench   (docs/PERFORMANCE.md has the figures and the command)
#include "export_encoder.hpp"

#include <flowguard/collector/flow_decoder.hpp>

#include <benchmark/benchmark.h>

using namespace flowguard;

namespace {

void decode_records(benchmark::State& state, bench::ExportVersion version) {
    constexpr int kPackets = 256;
    bench::ExportEncoder encoder(version, 42, 0, kPackets * 2);  // templates in the first packet only
    std::vector<std::vector<std::uint8_t>> packets(kPackets);
    std::uint64_t records_per_round = 0;
    for (auto& p : packets) records_per_round += encoder.next(p, 1'700'000'000);
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    out.reserve(4096);
    collector::ExportPacket packet;
    packet.exporter = IpAddress::from_v4(0x7f000001);
    packet.exporter_port = 9999;
    packet.received_ns = 1'700'000'000'000'000'000ull;
    for (auto& p : packets) {  // warm-up: learn the templates
        packet.payload = p;
        out.clear();
        decoder.decode(packet, out);
    }
    for (auto _ : state) {
        for (const auto& p : packets) {
            packet.payload = p;
            out.clear();
            decoder.decode(packet, out);
            benchmark::DoNotOptimize(out.data());
        }
    }
    // items_per_second is records per second: ns per record = 1e9 / items_per_second.
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * records_per_round));
}

}  // namespace

BENCHMARK_CAPTURE(decode_records, netflow_v5, bench::ExportVersion::v5);
BENCHMARK_CAPTURE(decode_records, netflow_v9, bench::ExportVersion::v9);
BENCHMARK_CAPTURE(decode_records, ipfix_fixed, bench::ExportVersion::ipfix);
BENCHMARK_CAPTURE(decode_records, ipfix_varlen, bench::ExportVersion::ipfix_varlen);
BENCHMARK_MAIN();
