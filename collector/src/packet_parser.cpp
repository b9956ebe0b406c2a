#include <flowguard/collector/packet_parser.hpp>
#include <flowguard/core/byte_order.hpp>
#include <flowguard/core/flow_record.hpp>

namespace flowguard::collector {
namespace {

constexpr std::uint8_t kProtoIcmp = 1;
constexpr std::uint8_t kProtoTcp = 6;
constexpr std::uint8_t kProtoUdp = 17;
constexpr std::uint8_t kProtoGre = 47;
constexpr std::uint8_t kProtoIcmpv6 = 58;
constexpr std::uint8_t kProtoSctp = 132;
constexpr std::uint8_t kProtoUdpLite = 136;

// Ports and flags from the transport header; only the first fragment (or an unfragmented packet) has one.
ParseResult parse_transport(const std::uint8_t* data, std::size_t captured, PacketView& out) noexcept {
    std::size_t header = 0;
    switch (out.proto) {
        case kProtoTcp:
            if (captured < 14) break;
            out.src_port = load_be16(data);
            out.dst_port = load_be16(data + 2);
            out.tcp_flags = data[13];
            if (captured < 20) break;
            header = (data[12] >> 4) * 4u;
            if (header < 20) return ParseResult::malformed;
            if (header > captured) header = captured;
            break;
        case kProtoUdp:
        case kProtoUdpLite:
        case kProtoSctp:
            if (captured < 4) break;
            out.src_port = load_be16(data);
            out.dst_port = load_be16(data + 2);
            header = out.proto == kProtoSctp ? 12 : 8;
            if (captured < header) header = captured;
            break;
        case kProtoIcmp:
        case kProtoIcmpv6:
            if (captured < 2) break;
            out.icmp_type = data[0];
            out.icmp_code = data[1];
            // NetFlow convention: ICMP type and code travel in the destination port.
            out.dst_port = static_cast<std::uint16_t>(data[0] << 8 | data[1]);
            header = captured < 8 ? captured : 8;
            break;
        case kProtoGre:
            header = captured < 4 ? captured : 4;
            break;
        default:
            out.payload = data;
            out.payload_length = captured;
            return ParseResult::ok;
    }
    if (header == 0) {
        out.transport_truncated = true;  // the packet still counts in its flow, with what could be read
        return ParseResult::ok;
    }
    out.payload = data + header;
    out.payload_length = captured - header;
    return ParseResult::ok;
}

ParseResult parse_ipv4(const std::uint8_t* data, std::size_t captured, PacketView& out) noexcept {
    if (captured < 20) return ParseResult::truncated;
    const std::size_t ihl = (data[0] & 0x0f) * 4u;
    if (ihl < 20) return ParseResult::malformed;
    if (captured < ihl) return ParseResult::truncated;
    const std::size_t total = load_be16(data + 2);
    if (total < ihl) return ParseResult::malformed;
    out.ip_version = 4;
    out.etype = kEtherTypeIPv4;
    out.l3_length = static_cast<std::uint32_t>(total);
    out.tos = data[1];
    out.ttl = data[8];
    out.proto = data[9];
    out.src.assign_v4(data + 12);
    out.dst.assign_v4(data + 16);
    const std::uint16_t fragment_field = load_be16(data + 6);
    const bool more_fragments = (fragment_field & 0x2000) != 0;
    const std::uint16_t offset = fragment_field & 0x1fff;
    out.fragment_id = load_be16(data + 4);
    if (offset != 0) {
        out.fragment = FragmentKind::later;
        return ParseResult::ok;
    }
    if (more_fragments) out.fragment = FragmentKind::first;
    // Ethernet pads short frames: trust the IP total length over the captured length when it is shorter.
    const std::size_t end = total < captured ? total : captured;
    return parse_transport(data + ihl, end - ihl, out);
}

ParseResult parse_ipv6(const std::uint8_t* data, std::size_t captured, PacketView& out) noexcept {
    if (captured < 40) return ParseResult::truncated;
    out.ip_version = 6;
    out.etype = kEtherTypeIPv6;
    const std::size_t payload_length = load_be16(data + 4);
    out.l3_length = static_cast<std::uint32_t>(payload_length + 40);
    out.tos = static_cast<std::uint8_t>((load_be16(data) >> 4) & 0xff);
    out.flow_label = load_be32(data) & 0xfffff;
    out.ttl = data[7];
    out.src.assign_v6(data + 8);
    out.dst.assign_v6(data + 24);
    const std::size_t end = 40 + payload_length < captured ? 40 + payload_length : captured;
    std::uint8_t next = data[6];
    std::size_t offset = 40;
    // Extension headers: hop-by-hop 0, routing 43, fragment 44, destination options 60, mobility 135,
    // HIP 139, shim6 140. AH (51) has its length in 4-byte units.
    for (int hops = 0; hops < 16; ++hops) {
        if (next == 44) {
            if (end < offset + 8) return ParseResult::truncated;
            const std::uint16_t field = load_be16(data + offset + 2);
            out.fragment_id = load_be32(data + offset + 4);
            next = data[offset];
            offset += 8;
            if ((field & 0xfff8) != 0) {
                out.proto = next;
                out.fragment = FragmentKind::later;
                return ParseResult::ok;
            }
            if (field & 1) out.fragment = FragmentKind::first;
            continue;
        }
        if (next == 0 || next == 43 || next == 60 || next == 135 || next == 139 || next == 140 || next == 51) {
            if (end < offset + 8) return ParseResult::truncated;
            const std::size_t length = next == 51 ? (data[offset + 1] + 2u) * 4u : (data[offset + 1] + 1u) * 8u;
            next = data[offset];
            offset += length;
            continue;
        }
        break;
    }
    if (offset > end) return ParseResult::truncated;
    out.proto = next;
    return parse_transport(data + offset, end - offset, out);
}

}  // namespace

bool link_type_supported(int link_type) noexcept {
    switch (link_type) {
        case kLinkNull:
        case kLinkEthernet:
        case kLinkRaw:
        case kLinkRawAlt:
        case kLinkLoop:
        case kLinkSll:
        case kLinkIpv4:
        case kLinkIpv6:
        case kLinkSll2:
            return true;
        default:
            return false;
    }
}

ParseResult parse_ip(const std::uint8_t* data, std::size_t captured, PacketView& out) noexcept {
    if (captured < 1) return ParseResult::truncated;
    switch (data[0] >> 4) {
        case 4:
            return parse_ipv4(data, captured, out);
        case 6:
            return parse_ipv6(data, captured, out);
        default:
            return ParseResult::not_ip;
    }
}

ParseResult parse_frame(int link_type, const std::uint8_t* data, std::size_t captured, PacketView& out) noexcept {
    std::uint16_t ethertype = 0;
    std::size_t offset = 0;
    switch (link_type) {
        case kLinkEthernet: {
            if (captured < 14) return ParseResult::truncated;
            out.dst_mac = load_be_var(data, 6);
            out.src_mac = load_be_var(data + 6, 6);
            ethertype = load_be16(data + 12);
            offset = 14;
            for (int tags = 0; ethertype == 0x8100 || ethertype == 0x88a8 || ethertype == 0x9100; ++tags) {
                if (captured < offset + 4) return ParseResult::truncated;
                if (tags == 0) out.vlan = load_be16(data + offset) & 0x0fff;
                ethertype = load_be16(data + offset + 2);
                offset += 4;
                if (tags == 8) return ParseResult::malformed;
            }
            break;
        }
        case kLinkSll:
            if (captured < 16) return ParseResult::truncated;
            ethertype = load_be16(data + 14);
            offset = 16;
            break;
        case kLinkSll2:
            if (captured < 20) return ParseResult::truncated;
            ethertype = load_be16(data);
            offset = 20;
            break;
        case kLinkNull:
        case kLinkLoop: {
            if (captured < 4) return ParseResult::truncated;
            // The address family is in the capturing host's byte order (NULL) or network order (LOOP).
            std::uint32_t family =
                data[0] | (data[1] << 8) | (data[2] << 16) | (static_cast<std::uint32_t>(data[3]) << 24);
            if (family > 0xffff) family = load_be32(data);
            if (family == 2)
                ethertype = 0x0800;
            else if (family == 10 || family == 24 || family == 28 || family == 30)
                ethertype = 0x86dd;
            offset = 4;
            break;
        }
        case kLinkRaw:
        case kLinkRawAlt:
        case kLinkIpv4:
        case kLinkIpv6:
            return parse_ip(data, captured, out);
        default:
            return ParseResult::not_ip;
    }
    if (ethertype == 0x0800) return parse_ipv4(data + offset, captured - offset, out);
    if (ethertype == 0x86dd) return parse_ipv6(data + offset, captured - offset, out);
    return ParseResult::not_ip;
}

}  // namespace flowguard::collector
