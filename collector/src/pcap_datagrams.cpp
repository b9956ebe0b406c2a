#include <flowguard/collector/packet_parser.hpp>
#include <flowguard/collector/pcap_datagrams.hpp>
#include <flowguard/core/byte_order.hpp>

namespace flowguard::collector {
namespace {

enum class Parse { udp, other, truncated, fragment };

Parse parse_udp(int link_type, const std::uint8_t* data, std::size_t captured, ExportPacket& out,
                std::uint16_t& dport) {
    PacketView view;
    switch (parse_frame(link_type, data, captured, view)) {
        case ParseResult::ok:
            break;
        case ParseResult::not_ip:
            return Parse::other;
        case ParseResult::truncated:
        case ParseResult::malformed:
            return Parse::truncated;
    }
    if (view.proto != 17) return Parse::other;
    if (view.fragment != FragmentKind::none) return Parse::fragment;
    if (view.transport_truncated || view.payload == nullptr) return Parse::truncated;
    // The UDP length field sits 4 bytes before the payload; a datagram cut by the snap length is unusable.
    const std::size_t udp_length = load_be16(view.payload - 4);
    if (udp_length < 8 || udp_length - 8 > view.payload_length) return Parse::truncated;
    out.exporter = view.src;
    out.exporter_port = view.src_port;
    dport = view.dst_port;
    out.payload = std::span<const std::uint8_t>(view.payload, udp_length - 8);
    return Parse::udp;
}

}  // namespace

bool PcapDatagramReader::next(ExportPacket& packet, std::uint16_t& destination_port) {
    RawPacket raw;
    PacketCapture::Read read;
    while ((read = capture_.next(raw)) == PacketCapture::Read::packet) {
        ++stats_.frames;
        packet.received_ns = raw.time_ns;
        switch (parse_udp(capture_.link_type(), raw.data, raw.captured, packet, destination_port)) {
            case Parse::udp:
                ++stats_.udp_datagrams;
                return true;
            case Parse::other:
                ++stats_.other_frames;
                break;
            case Parse::truncated:
                ++stats_.truncated;
                break;
            case Parse::fragment:
                ++stats_.fragments;
                break;
        }
    }
    if (read == PacketCapture::Read::error) error_ = capture_.error();
    return false;
}

}  // namespace flowguard::collector
