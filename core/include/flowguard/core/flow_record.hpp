#pragma once
// The one flow record every module speaks. Trivially copyable and fixed-size so that batches of records
// can live in pooled arrays and cross rings by value. Times are ns since the Unix epoch (UTC).
#include <flowguard/core/ip_address.hpp>

#include <array>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace flowguard {

enum class FlowType : std::uint8_t { unknown = 0, sflow5, netflow_v5, netflow_v9, ipfix, meter };

// goflow2's names for the flow types, which its JSON consumers match on.
std::string_view flow_type_name(FlowType t) noexcept;
// The inverse: FlowType::unknown for a name it does not know (and for FLOWUNKNOWN).
FlowType flow_type_from_name(std::string_view name) noexcept;

enum class FlowDirection : std::uint8_t { ingress = 0, egress = 1, unknown = 0xff };

inline constexpr std::uint16_t kEtherTypeIPv4 = 0x0800;
inline constexpr std::uint16_t kEtherTypeIPv6 = 0x86dd;

struct FlowRecord {
    // Where and when the record came from.
    std::uint64_t time_received_ns = 0;
    IpAddress sampler_address;       // exporter (or metering host)
    std::uint16_t sampler_port = 0;  // exporter's UDP source port
    FlowType type = FlowType::unknown;
    std::uint32_t sequence_num = 0;           // export packet's sequence number as sent
    std::uint32_t observation_domain_id = 0;  // IPFIX observation domain / v9 source id / v5 engine
    std::uint64_t sampling_rate = 0;          // 1-in-N packets; 0 = unknown/unsampled

    // The flow itself.
    std::uint64_t time_flow_start_ns = 0;
    std::uint64_t time_flow_end_ns = 0;
    std::uint64_t bytes = 0;  // as exported (not multiplied by the sampling rate)
    std::uint64_t packets = 0;
    IpAddress src_addr;
    IpAddress dst_addr;
    IpAddress next_hop;
    IpAddress bgp_next_hop;
    std::uint16_t etype = 0;  // kEtherTypeIPv4 / kEtherTypeIPv6
    std::uint8_t proto = 0;
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    std::uint32_t in_if = 0;
    std::uint32_t out_if = 0;
    std::uint64_t src_mac = 0;  // 48-bit MAC in the low bits
    std::uint64_t dst_mac = 0;
    std::uint16_t src_vlan = 0;
    std::uint16_t dst_vlan = 0;
    std::uint8_t ip_tos = 0;
    std::uint8_t ip_ttl = 0;
    std::uint8_t tcp_flags = 0;
    std::uint8_t icmp_type = 0;
    std::uint8_t icmp_code = 0;
    std::uint8_t forwarding_status = 0;
    std::uint8_t flow_end_reason = 0;
    FlowDirection direction = FlowDirection::unknown;
    std::uint8_t src_mask = 0;
    std::uint8_t dst_mask = 0;
    std::uint32_t ipv6_flow_label = 0;
    std::uint32_t src_as = 0;
    std::uint32_t dst_as = 0;
    std::uint32_t next_hop_as = 0;

    bool is_icmp() const noexcept { return proto == 1 || proto == 58; }
};

static_assert(std::is_trivially_copyable_v<FlowRecord>);

}  // namespace flowguard
