#include <flowguard/collector/pcap_datagrams.hpp>
#include <flowguard/core/byte_order.hpp>

#include <pcap/pcap.h>

#include <fmt/format.h>

#include <stdexcept>

namespace flowguard::collector {
namespace {

constexpr int kLinkNull = 0;
constexpr int kLinkEthernet = 1;
constexpr int kLinkRaw = 12;
constexpr int kLinkRawAlt = 101;
constexpr int kLinkLoop = 108;
constexpr int kLinkSll = 113;
constexpr int kLinkIpv4 = 228;
constexpr int kLinkIpv6 = 229;
constexpr int kLinkSll2 = 276;

enum class Parse { udp, other, truncated, fragment };

struct Frame {
    const std::uint8_t* data;
    std::size_t length;
};

// Finds the network-layer start and its version (4 or 6) from the link header; 0 if not IP.
int strip_link(int link_type, Frame& f) {
    auto take = [&](std::size_t n) {
        if (f.length < n) return false;
        f.data += n;
        f.length -= n;
        return true;
    };
    std::uint16_t ethertype = 0;
    switch (link_type) {
        case kLinkEthernet: {
            if (!take(12) || f.length < 2) return -1;
            ethertype = load_be16(f.data);
            take(2);
            while (ethertype == 0x8100 || ethertype == 0x88a8 || ethertype == 0x9100) {  // VLAN / QinQ
                if (f.length < 4) return -1;
                ethertype = load_be16(f.data + 2);
                take(4);
            }
            break;
        }
        case kLinkSll:
            if (f.length < 16) return -1;
            ethertype = load_be16(f.data + 14);
            take(16);
            break;
        case kLinkSll2:
            if (f.length < 20) return -1;
            ethertype = load_be16(f.data);
            take(20);
            break;
        case kLinkNull:
        case kLinkLoop: {
            if (f.length < 4) return -1;
            // The address family is in host order of the capturing machine (NULL) or network order (LOOP).
            std::uint32_t family = f.data[0] | (f.data[1] << 8) | (f.data[2] << 16) | (static_cast<std::uint32_t>(f.data[3]) << 24);
            if (family > 0xffff) family = load_be32(f.data);
            take(4);
            if (family == 2) return 4;
            if (family == 10 || family == 24 || family == 28 || family == 30) return 6;
            return 0;
        }
        case kLinkRaw:
        case kLinkRawAlt:
            if (f.length < 1) return -1;
            return f.data[0] >> 4;
        case kLinkIpv4: return 4;
        case kLinkIpv6: return 6;
        default: return 0;
    }
    if (ethertype == 0x0800) return 4;
    if (ethertype == 0x86dd) return 6;
    return 0;
}

Parse parse_udp(int link_type, Frame f, ExportPacket& out, std::uint16_t& dport) {
    const int version = strip_link(link_type, f);
    if (version < 0) return Parse::truncated;
    const std::uint8_t* udp = nullptr;
    std::size_t available = 0;
    if (version == 4) {
        if (f.length < 20) return Parse::truncated;
        const std::size_t ihl = (f.data[0] & 0x0f) * 4u;
        const std::size_t total = load_be16(f.data + 2);
        if (ihl < 20 || f.length < ihl) return Parse::truncated;
        if (f.data[9] != 17) return Parse::other;
        if ((load_be16(f.data + 6) & 0x3fff) != 0) return Parse::fragment;  // MF set or offset != 0
        out.exporter = IpAddress::from_v4_bytes(f.data + 12);
        udp = f.data + ihl;
        available = std::min(f.length, total > ihl ? total : f.length) - ihl;
    } else if (version == 6) {
        if (f.length < 40) return Parse::truncated;
        std::uint8_t next = f.data[6];
        std::size_t offset = 40;
        // Walk extension headers (hop-by-hop, routing, destination options) to the UDP header.
        while (next == 0 || next == 43 || next == 60 || next == 44) {
            if (f.length < offset + 8) return Parse::truncated;
            if (next == 44) return Parse::fragment;
            const std::uint8_t following = f.data[offset];
            offset += (f.data[offset + 1] + 1u) * 8u;
            next = following;
        }
        if (next != 17) return Parse::other;
        if (f.length < offset) return Parse::truncated;
        out.exporter = IpAddress::from_v6_bytes(f.data + 8);
        udp = f.data + offset;
        available = f.length - offset;
    } else {
        return Parse::other;
    }
    if (available < 8) return Parse::truncated;
    const std::size_t udp_length = load_be16(udp + 4);
    if (udp_length < 8 || udp_length > available) return Parse::truncated;
    out.exporter_port = load_be16(udp);
    dport = load_be16(udp + 2);
    out.payload = std::span<const std::uint8_t>(udp + 8, udp_length - 8);
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
        switch (parse_udp(link_type_, Frame{data, header->caplen}, packet, destination_port)) {
            case Parse::udp: ++stats_.udp_datagrams; return true;
            case Parse::other: ++stats_.other_frames; break;
            case Parse::truncated: ++stats_.truncated; break;
            case Parse::fragment: ++stats_.fragments; break;
        }
    }
}

}  // namespace flowguard::collector
