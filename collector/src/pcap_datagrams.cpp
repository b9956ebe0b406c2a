#include <flowguard/collector/packet_parser.hpp>
#include <flowguard/collector/pcap_datagrams.hpp>
#include <flowguard/core/byte_order.hpp>

#include <pcap/pcap.h>

#include <fmt/format.h>

#include <stdexcept>

namespace flowguard::collector {
namespace {

enum class Parse { udp, other, truncated, fragment };

Parse parse_udp(int link_type, const std::uint8_t* data, std::size_t captured, ExportPacket& out,
                std::uint16_t& dport) {
    PacketView view;
    switch (parse_frame(link_type, data, captured, view)) {
        case ParseResult::ok: break;
        case ParseResult::not_ip: return Parse::other;
        case ParseResult::truncated:
        case ParseResult::malformed: return Parse::truncated;
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

struct PcapDatagramReader::Handle {
    pcap_t* pcap = nullptr;
    ~Handle() {
        if (pcap) pcap_close(pcap);
    }
};

PcapDatagramReader::PcapDatagramReader(const std::string& path) : handle_(std::make_unique<Handle>()) {
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    handle_->pcap = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!handle_->pcap) throw std::runtime_error(fmt::format("cannot read capture '{}': {}", path, errbuf));
    link_type_ = pcap_datalink(handle_->pcap);
}

PcapDatagramReader::~PcapDatagramReader() = default;

bool PcapDatagramReader::next(ExportPacket& packet, std::uint16_t& destination_port) {
    pcap_pkthdr* header = nullptr;
    const std::uint8_t* data = nullptr;
    for (;;) {
        const int rc = pcap_next_ex(handle_->pcap, &header, &data);
        if (rc != 1) return false;  // -2: end of file; -1: a damaged file ends the read too
        ++stats_.frames;
        packet.received_ns = static_cast<std::uint64_t>(header->ts.tv_sec) * 1'000'000'000ull +
                             static_cast<std::uint64_t>(header->ts.tv_usec);  // nanosecond precision requested
        switch (parse_udp(link_type_, data, header->caplen, packet, destination_port)) {
            case Parse::udp: ++stats_.udp_datagrams; return true;
            case Parse::other: ++stats_.other_frames; break;
            case Parse::truncated: ++stats_.truncated; break;
            case Parse::fragment: ++stats_.fragments; break;
        }
    }
}

}  // namespace flowguard::collector
