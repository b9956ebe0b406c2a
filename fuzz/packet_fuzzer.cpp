// libFuzzer target for everything that reads raw packets: the frame parser (every link type), the flow table,
// DNS extraction and parsing, and the SUNBURST name decoder on the question names found.
#include <flowguard/analyzer/sunburst.hpp>
#include <flowguard/collector/dns_parser.hpp>
#include <flowguard/collector/span_meter.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace flowguard;
    static const MeterConfig config = [] {
        MeterConfig c;
        c.max_flows = 64;
        c.max_fragments = 16;
        return c;
    }();
    static collector::SpanMeter meter(config, IpAddress{});
    std::vector<FlowRecord> flows;
    std::vector<DnsEvent> dns;
    for (int link : {collector::kLinkEthernet, collector::kLinkRaw, collector::kLinkSll, collector::kLinkSll2,
                     collector::kLinkNull}) {
        collector::RawPacket raw{data, size, size, 1'000'000'000ull * (size % 97)};
        meter.process(link, raw, flows, dns);
    }
    for (const auto& event : dns) (void)analyzer::decode_sunburst_name(event.qname.view());
    DnsEvent event;
    (void)collector::parse_dns_message(data, size, event);
    (void)analyzer::decode_sunburst_name(std::string_view(reinterpret_cast<const char*>(data), size));
    if (size % 50 == 0) meter.flush(flows);
    return 0;
}
