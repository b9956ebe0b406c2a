// libFuzzer target: any bytes as the template state file (collector.state_file), restored into a decoder
// with small caps; then a data set for every template id the file may have restored is decoded.
#include <flowguard/collector/flow_decoder.hpp>
#include <flowguard/collector/template_state.hpp>

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace flowguard;
    CollectorConfig config;
    config.max_streams = 8;
    config.templates.max_templates = 32;
    config.templates.max_templates_per_exporter = 16;
    collector::FlowDecoder decoder(config);
    std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
    const auto result = collector::read_template_state(in, {&decoder});
    if (result.templates > 32) __builtin_trap();  // the cap holds for restored templates too
    // An IPFIX message from 10.0.0.1 (the exporter a saved file most likely names) with data for id 256.
    static const std::uint8_t message[] = {0, 10, 0,  36, 0x65, 0x5f, 0x5e, 0x00, 0, 0, 0, 1,  0, 0,   0, 0, 1, 0,
                                           0, 20, 10, 0,  0,    1,    10,   0,    0, 2, 0, 80, 1, 187, 6, 0, 0, 0};
    collector::ExportPacket packet;
    packet.payload = message;
    packet.exporter = IpAddress::from_v4(0x0a000001);
    packet.exporter_port = 4739;
    packet.received_ns = 1'700'000'000'000'000'000ull;
    std::vector<FlowRecord> out;
    decoder.decode(packet, out);
    return 0;
}
