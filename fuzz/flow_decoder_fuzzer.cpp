// libFuzzer target: any bytes as one export datagram, through a decoder that keeps state across inputs
// (templates, pending data, sequence trackers), with small limits so that caps are exercised.
// Build: CXX=clang++ cmake --preset default -DFLOWGUARD_BUILD_FUZZ=ON; run: build/default/fuzz/flow_decoder_fuzzer
// fuzz/corpora/flow_decoder CTest replays the corpus through the same function (flow_decoder_corpus_replay).
#include <flowguard/collector/flow_decoder.hpp>
#include <flowguard/collector/span_meter.hpp>

#include <cstddef>
#include <cstdint>

namespace {

flowguard::CollectorConfig small_limits() {
    flowguard::CollectorConfig c;
    c.max_streams = 64;
    c.templates.max_templates = 256;
    c.templates.max_templates_per_exporter = 64;
    c.pending.max_bytes = 1u << 16;
    c.max_interfaces = 16;
    return c;
}

// sFlow packet samples go on to passive DNS, as in the daemon.
flowguard::collector::FlowDecoder& fuzz_decoder() {
    static flowguard::collector::FlowDecoder* decoder = [] {
        auto* d = new flowguard::collector::FlowDecoder(small_limits());  // lives as long as the fuzzer
        d->on_sampled_packet([](const flowguard::collector::PacketView& p, const flowguard::FlowRecord& r) {
            flowguard::DnsEvent event;
            flowguard::collector::extract_dns(p, r.time_received_ns, event);
        });
        return d;
    }();
    return *decoder;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto& decoder = fuzz_decoder();
    static std::vector<flowguard::FlowRecord> out;
    static std::uint64_t clock_ns = 1'700'000'000'000'000'000ull;
    flowguard::collector::ExportPacket packet;
    packet.payload = std::span<const std::uint8_t>(data, size);
    packet.exporter = flowguard::IpAddress::from_v4(0x7f000001);
    packet.exporter_port = static_cast<std::uint16_t>(size % 3);  // a few streams
    packet.received_ns = clock_ns += 1'000'000'000ull;
    out.clear();
    decoder.decode(packet, out);
    if (out.size() > 65535) __builtin_trap();  // a datagram cannot hold more records than bytes
    return 0;
}
