#include <flowguard/collector/dns_parser.hpp>
#include <flowguard/collector/span_meter.hpp>
#include <flowguard/core/byte_order.hpp>

namespace flowguard::collector {

boost::json::object span_meter_summary(const SpanMeterStats& stats, const CaptureDrops& drops) {
    boost::json::object summary;
    add_to_summary(summary, stats, kSpanMeterStats);
    add_to_summary(summary, stats.flows, kMeterStats);
    add_to_summary(summary, drops, kCaptureDrops);
    return summary;
}

DnsExtract extract_dns(const PacketView& packet, std::uint64_t time_ns, DnsEvent& event) noexcept {
    if (packet.fragment == FragmentKind::later || packet.payload == nullptr) return DnsExtract::none;
    if (packet.src_port != 53 && packet.dst_port != 53) return DnsExtract::none;
    const std::uint8_t* message = packet.payload;
    std::size_t length = packet.payload_length;
    if (packet.proto == 6) {
        if (length == 0) return DnsExtract::none;  // handshake and bare ACKs
        if (length < 2) return DnsExtract::error;
        const std::size_t framed = load_be16(message);
        if (framed + 2 > length) return DnsExtract::error;  // spread over segments: not reassembled
        message += 2;
        length = framed;
    } else if (packet.proto != 17) {
        return DnsExtract::none;
    }
    event = DnsEvent{};
    event.time_ns = time_ns;
    if (parse_dns_message(message, length, event) != DnsParseResult::ok) return DnsExtract::error;
    // The client sends queries and receives responses (for server-to-server traffic too, where both ports are 53).
    if (event.response) {
        event.client = packet.dst;
        event.client_port = packet.dst_port;
        event.server = packet.src;
    } else {
        event.client = packet.src;
        event.client_port = packet.src_port;
        event.server = packet.dst;
    }
    return DnsExtract::ok;
}

void SpanMeter::process(int link_type, const RawPacket& raw, std::vector<FlowRecord>& flows,
                        std::vector<DnsEvent>& dns) {
    ++stats_.frames;
    PacketView packet;
    switch (parse_frame(link_type, raw.data, raw.captured, packet)) {
        case ParseResult::ok:
            break;
        case ParseResult::not_ip:
            ++stats_.not_ip;
            return;
        case ParseResult::truncated:
            ++stats_.truncated;
            return;
        case ParseResult::malformed:
            ++stats_.malformed;
            return;
    }
    meter_.add(packet, raw.time_ns, flows);
    if (!config_.dns || (packet.src_port != 53 && packet.dst_port != 53)) return;
    // Parsed straight into the output vector (an event is ~1.5 KiB): dropped again when there was none.
    dns.emplace_back();
    switch (extract_dns(packet, raw.time_ns, dns.back())) {
        case DnsExtract::ok:
            ++stats_.dns_messages;
            return;
        case DnsExtract::none:
            break;
        case DnsExtract::error:
            ++stats_.dns_errors;
            break;
    }
    dns.pop_back();
}

}  // namespace flowguard::collector
