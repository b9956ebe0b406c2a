#include "json_fields.hpp"
#include "text_append.hpp"

#include <flowguard/exporters/flow_format.hpp>
#include <flowguard/exporters/flow_json.hpp>

#include <fmt/compile.h>

#include <charconv>

namespace flowguard::exporters {
namespace {

void append_mac(fmt::memory_buffer& out, std::uint64_t mac) {
    fmt::format_to(fmt::appender(out), FMT_COMPILE("\"{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\""), (mac >> 40) & 0xff,
                   (mac >> 32) & 0xff, (mac >> 24) & 0xff, (mac >> 16) & 0xff, (mac >> 8) & 0xff, mac & 0xff);
}

// The network an address belongs to given a prefix length, as goflow2 prints src_net/dst_net.
void append_network(fmt::memory_buffer& out, const IpAddress& a, std::uint8_t mask) {
    auto bytes = a.bytes();
    const bool v6 = a.is_v6();
    const unsigned first = v6 ? 0 : 12;
    const unsigned bits = v6 ? 128 : 32;
    const unsigned prefix = std::min<unsigned>(mask, bits);
    for (unsigned start = 0; start < bits; start += 8) {  // host bits cleared a byte at a time
        auto& byte = bytes[first + start / 8];
        if (start >= prefix)
            byte = 0;
        else if (prefix - start < 8)
            byte &= static_cast<std::uint8_t>(0xffu << (8 - (prefix - start)));
    }
    const auto net = v6 ? IpAddress::from_v6_bytes(bytes.data()) : IpAddress::from_v4_bytes(bytes.data() + 12);
    out.push_back('"');
    append_address(out, net);
    fmt::format_to(fmt::appender(out), FMT_COMPILE("/{}\""), prefix);
}

std::string_view etype_name(std::uint16_t etype) {
    switch (etype) {
        case kEtherTypeIPv4:
            return "IPv4";
        case kEtherTypeIPv6:
            return "IPv6";
        default:
            return "";
    }
}

using json_fields::read_address;
using json_fields::read_number;
using json_fields::read_text;

bool read_mac(const boost::json::object& o, std::string_view key, std::uint64_t& out, std::string& error) {
    std::string_view text;
    if (!read_text(o, key, text, error) || text.empty()) return error.empty();
    std::uint64_t mac = 0;
    int octets = 0;
    for (std::size_t i = 0; i < text.size(); i += 3, ++octets) {
        unsigned octet = 0;
        const auto [end, ec] = std::from_chars(text.data() + i, text.data() + std::min(i + 2, text.size()), octet, 16);
        const bool separator_ok = i + 2 == text.size() || (i + 2 < text.size() && text[i + 2] == ':');
        if (ec != std::errc{} || end != text.data() + i + 2 || !separator_ok || octets == 6) {
            error = std::string(key) + ": '" + std::string(text) + "' is not a MAC address";
            return false;
        }
        mac = mac << 8 | octet;
    }
    if (octets != 6) {
        error = std::string(key) + ": '" + std::string(text) + "' is not a MAC address";
        return false;
    }
    out = mac;
    return true;
}

// "10.1.0.0/16": the prefix length (the address part is the masked address itself, already in src/dst_addr).
bool read_mask(const boost::json::object& o, std::string_view key, std::uint8_t& out, std::string& error) {
    std::string_view text;
    if (!read_text(o, key, text, error) || text.empty()) return error.empty();
    const auto slash = text.rfind('/');
    unsigned prefix = 0;
    const auto digits = text.substr(slash == std::string_view::npos ? text.size() : slash + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (slash == std::string_view::npos || ec != std::errc{} || end != digits.data() + digits.size() || prefix > 128) {
        error = std::string(key) + ": '" + std::string(text) + "' is not ADDRESS/PREFIX";
        return false;
    }
    out = static_cast<std::uint8_t>(prefix);
    return true;
}

bool read_identity(const boost::json::object& o, FlowRecord& r, std::string& error) {
    std::string_view type;
    if (!read_text(o, "type", type, error)) return false;
    r.type = flow_type_from_name(type);
    std::int64_t direction = -1;
    if (const auto* v = o.if_contains("flow_direction"); v && v->is_int64())
        direction = v->as_int64();
    else if (v && v->is_uint64())
        direction = static_cast<std::int64_t>(v->as_uint64());
    r.direction = direction == 0   ? FlowDirection::ingress
                  : direction == 1 ? FlowDirection::egress
                                   : FlowDirection::unknown;
    return read_number(o, "time_received_ns", r.time_received_ns, error) &&
           read_number(o, "sequence_num", r.sequence_num, error) &&
           read_number(o, "sampling_rate", r.sampling_rate, error) &&
           read_address(o, "sampler_address", r.sampler_address, error) &&
           read_number(o, "sampler_port", r.sampler_port, error) &&
           read_number(o, "observation_domain_id", r.observation_domain_id, error) &&
           read_number(o, "flow_end_reason", r.flow_end_reason, error);
}

bool read_protocol(const boost::json::object& o, FlowRecord& r, std::string& error) {
    std::string_view etype;
    if (!read_text(o, "etype", etype, error)) return false;
    r.etype = etype == "IPv4" ? kEtherTypeIPv4 : etype == "IPv6" ? kEtherTypeIPv6 : 0;
    const auto* proto = o.if_contains("proto");
    if (proto == nullptr || proto->is_null()) return true;
    if (!proto->is_string()) return read_number(o, "proto", r.proto, error);  // other tools write numbers
    const auto number = protocol_number(std::string_view(proto->as_string()));
    if (!number) {
        error = "proto: '" + std::string(proto->as_string()) + "' is neither a protocol name nor a number";
        return false;
    }
    r.proto = *number;
    return true;
}

}  // namespace

void append_flow_json(fmt::memory_buffer& out, const FlowRecord& r) {
    auto it = fmt::appender(out);
    fmt::format_to(
        it,
        FMT_COMPILE(R"({{"type":"{}","time_received_ns":{},"sequence_num":{},"sampling_rate":{},"sampler_address":)"),
        flow_type_name(r.type), r.time_received_ns, r.sequence_num, r.sampling_rate);
    append_quoted_address(out, r.sampler_address);
    fmt::format_to(it,
                   FMT_COMPILE(R"(,"time_flow_start_ns":{},"time_flow_end_ns":{},"bytes":{},"packets":{},"src_addr":)"),
                   r.time_flow_start_ns, r.time_flow_end_ns, r.bytes, r.packets);
    append_quoted_address(out, r.src_addr);
    out.append(std::string_view(R"(,"dst_addr":)"));
    append_quoted_address(out, r.dst_addr);
    const auto proto = protocol_name(r.proto);
    if (proto.empty()) {
        fmt::format_to(it, FMT_COMPILE(R"(,"etype":"{}","proto":"{}")"), etype_name(r.etype), r.proto);
    } else {
        fmt::format_to(it, FMT_COMPILE(R"(,"etype":"{}","proto":"{}")"), etype_name(r.etype), proto);
    }
    fmt::format_to(it, FMT_COMPILE(R"(,"src_port":{},"dst_port":{},"in_if":{},"out_if":{},"src_mac":)"), r.src_port,
                   r.dst_port, r.in_if, r.out_if);
    append_mac(out, r.src_mac);
    out.append(std::string_view(R"(,"dst_mac":)"));
    append_mac(out, r.dst_mac);
    fmt::format_to(
        it,
        FMT_COMPILE(R"(,"src_vlan":{},"dst_vlan":{},"vlan_id":{},"ip_tos":{},"forwarding_status":{},"ip_ttl":{},)"
                    R"("ip_flags":0,"tcp_flags":{},"icmp_type":{},"icmp_code":{},"ipv6_flow_label":{},)"
                    R"("fragment_id":0,"fragment_offset":0,"src_as":{},"dst_as":{},"next_hop":)"),
        r.src_vlan, r.dst_vlan, r.src_vlan, r.ip_tos, r.forwarding_status, r.ip_ttl, r.tcp_flags, r.icmp_type,
        r.icmp_code, r.ipv6_flow_label, r.src_as, r.dst_as);
    append_quoted_address(out, r.next_hop);
    fmt::format_to(it, FMT_COMPILE(R"(,"next_hop_as":{},"src_net":)"), r.next_hop_as);
    append_network(out, r.src_addr, r.src_mask);
    out.append(std::string_view(R"(,"dst_net":)"));
    append_network(out, r.dst_addr, r.dst_mask);
    out.append(std::string_view(R"(,"bgp_next_hop":)"));
    append_quoted_address(out, r.bgp_next_hop);
    fmt::format_to(
        it,
        FMT_COMPILE(R"(,"bgp_communities":[],"as_path":[],"mpls_ttl":[],"mpls_label":[],"mpls_ip":[],)"
                    R"("observation_domain_id":{},"observation_point_id":0,"layer_stack":[],"layer_size":[],)"
                    R"("ipv6_routing_header_addresses":[],"ipv6_routing_header_seg_left":0,)"
                    R"("sampler_port":{},"flow_direction":{},"flow_end_reason":{}}})"),
        r.observation_domain_id, r.sampler_port,
        r.direction == FlowDirection::unknown ? -1 : static_cast<int>(r.direction), r.flow_end_reason);
    out.push_back('\n');
}

bool read_flow_json(const boost::json::object& o, FlowRecord& r, std::string& error) {
    // Every other field may be missing (other tools' logs carry fewer), but a flow is between two addresses:
    // `{}` or a DNS-less object of another kind is not one.
    for (const auto* key : {"src_addr", "dst_addr"}) {
        const auto* v = o.if_contains(key);
        if (v == nullptr || (v->is_string() && v->as_string().empty())) {
            error = std::string(key) + ": missing (a flow record needs both addresses)";
            return false;
        }
    }
    return read_identity(o, r, error) && read_protocol(o, r, error) &&
           read_number(o, "time_flow_start_ns", r.time_flow_start_ns, error) &&
           read_number(o, "time_flow_end_ns", r.time_flow_end_ns, error) && read_number(o, "bytes", r.bytes, error) &&
           read_number(o, "packets", r.packets, error) && read_address(o, "src_addr", r.src_addr, error) &&
           read_address(o, "dst_addr", r.dst_addr, error) && read_address(o, "next_hop", r.next_hop, error) &&
           read_address(o, "bgp_next_hop", r.bgp_next_hop, error) && read_number(o, "src_port", r.src_port, error) &&
           read_number(o, "dst_port", r.dst_port, error) && read_number(o, "in_if", r.in_if, error) &&
           read_number(o, "out_if", r.out_if, error) && read_mac(o, "src_mac", r.src_mac, error) &&
           read_mac(o, "dst_mac", r.dst_mac, error) && read_number(o, "src_vlan", r.src_vlan, error) &&
           read_number(o, "dst_vlan", r.dst_vlan, error) && read_number(o, "ip_tos", r.ip_tos, error) &&
           read_number(o, "ip_ttl", r.ip_ttl, error) &&
           read_number(o, "forwarding_status", r.forwarding_status, error) &&
           read_number(o, "tcp_flags", r.tcp_flags, error) && read_number(o, "icmp_type", r.icmp_type, error) &&
           read_number(o, "icmp_code", r.icmp_code, error) &&
           read_number(o, "ipv6_flow_label", r.ipv6_flow_label, error) && read_number(o, "src_as", r.src_as, error) &&
           read_number(o, "dst_as", r.dst_as, error) && read_number(o, "next_hop_as", r.next_hop_as, error) &&
           read_mask(o, "src_net", r.src_mask, error) && read_mask(o, "dst_net", r.dst_mask, error);
}

}  // namespace flowguard::exporters
