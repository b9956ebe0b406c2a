#pragma once
// Parses captured frames down to layer 4 for the span-port meter, passive DNS and sFlow packet samples.
// Nothing is trusted beyond the captured length: a header that does not fit is `truncated`, a header that
// contradicts itself is `malformed`.
#include <flowguard/core/ip_address.hpp>

#include <cstddef>
#include <cstdint>

namespace flowguard::collector {

// libpcap link types the parser understands.
inline constexpr int kLinkNull = 0;
inline constexpr int kLinkEthernet = 1;
inline constexpr int kLinkRaw = 12;
inline constexpr int kLinkRawAlt = 101;
inline constexpr int kLinkLoop = 108;
inline constexpr int kLinkSll = 113;
inline constexpr int kLinkIpv4 = 228;
inline constexpr int kLinkIpv6 = 229;
inline constexpr int kLinkSll2 = 276;

bool link_type_supported(int link_type) noexcept;

enum class FragmentKind : std::uint8_t { none, first, later };

struct PacketView {
    IpAddress src;
    IpAddress dst;
    std::uint64_t src_mac = 0;
    std::uint64_t dst_mac = 0;
    std::uint16_t vlan = 0;       // outer 802.1Q id, 0 when untagged
    std::uint16_t etype = 0;      // 0x0800 or 0x86dd
    std::uint32_t l3_length = 0;  // IP total length as sent (IPv6: payload length + 40), not the captured part
    std::uint8_t ip_version = 0;
    std::uint8_t proto = 0;
    std::uint8_t tos = 0;
    std::uint8_t ttl = 0;
    std::uint16_t src_port = 0;  // 0 when the transport has none or for later fragments
    std::uint16_t dst_port = 0;
    std::uint8_t tcp_flags = 0;
    std::uint8_t icmp_type = 0;
    std::uint8_t icmp_code = 0;
    FragmentKind fragment = FragmentKind::none;
    std::uint32_t fragment_id = 0;  // IPv4 identification or IPv6 fragment identification
    std::uint32_t flow_label = 0;
    // Transport payload as captured (may be shorter than sent); empty for later fragments.
    const std::uint8_t* payload = nullptr;
    std::size_t payload_length = 0;
    bool transport_truncated = false;  // the transport header itself was cut by the snap length
};

enum class ParseResult : std::uint8_t { ok, not_ip, truncated, malformed };

// From the start of a frame of the given link type.
ParseResult parse_frame(int link_type, const std::uint8_t* data, std::size_t captured, PacketView& out) noexcept;
// From the start of an IPv4 or IPv6 header (sFlow sampled IP headers, raw captures).
ParseResult parse_ip(const std::uint8_t* data, std::size_t captured, PacketView& out) noexcept;

}  // namespace flowguard::collector
