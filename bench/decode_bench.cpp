// Decode cost per record on one core, through FlowDecoder (templates already known, as in steady state).
// Run: build/release/bench/decode_bench   (docs/PERFORMANCE.md has the figures and the command)
#include "export_encoder.hpp"

#include <flowguard/collector/flow_decoder.hpp>

#include <benchmark/benchmark.h>

using namespace flowguard;

namespace {

// `exporters` > 1 sends consecutive packets from different exporters (each with its own templates), so
// nothing carried from the previous packet (the decoder's last-stream check) helps.
void decode_records(benchmark::State& state, bench::ExportVersion version, int exporters = 1) {
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
    const auto exporter_of = [](std::size_t i, int n) {
        return IpAddress::from_v4(0x7f000001u + static_cast<std::uint32_t>(i % static_cast<std::size_t>(n)));
    };
    for (int e = 0; e < exporters; ++e) {  // warm-up: every exporter learns the templates
        packet.exporter = exporter_of(e, exporters);
        for (auto& p : packets) {
            packet.payload = p;
            out.clear();
            decoder.decode(packet, out);
        }
    }
    for (auto _ : state) {
        for (std::size_t i = 0; i < packets.size(); ++i) {
            const auto& p = packets[i];
            packet.exporter = exporter_of(i, exporters);
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
BENCHMARK_CAPTURE(decode_records, ipfix_fixed_4_exporters_interleaved, bench::ExportVersion::ipfix, 4);
BENCHMARK_MAIN();
