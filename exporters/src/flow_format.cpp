#include <flowguard/exporters/flow_format.hpp>

#include <iterator>

namespace flowguard::exporters {
namespace {

void append_address(fmt::memory_buffer& out, const IpAddress& a) {
    char text[64];
    const auto n = a.format_to(text);
    out.append(text, text + n);
}

void append_quoted_address(fmt::memory_buffer& out, const IpAddress& a) {
    out.push_back('"');
    append_address(out, a);
    out.push_back('"');
}

void append_mac(fmt::memory_buffer& out, std::uint64_t mac) {
    fmt::format_to(std::back_inserter(out), "\"{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\"", (mac >> 40) & 0xff,
                   (mac >> 32) & 0xff, (mac >> 24) & 0xff, (mac >> 16) & 0xff, (mac >> 8) & 0xff, mac & 0xff);
}

// The network an address belongs to given a prefix length, as goflow2 prints src_net/dst_net.
void append_network(fmt::memory_buffer& out, const IpAddress& a, std::uint8_t mask) {
    auto bytes = a.bytes();
    const bool v6 = a.is_v6();
    const unsigned first = v6 ? 0 : 12;
    const unsigned bits = v6 ? 128 : 32;
    const unsigned prefix = std::min<unsigned>(mask, bits);
    for (unsigned i = 0; i < bits; ++i) {
        if (i >= prefix) bytes[first + i / 8] &= static_cast<std::uint8_t>(~(0x80u >> (i % 8)));
    }
    const auto net = v6 ? IpAddress::from_v6_bytes(bytes.data()) : IpAddress::from_v4_bytes(bytes.data() + 12);
    out.push_back('"');
    append_address(out, net);
    fmt::format_to(std::back_inserter(out), "/{}\"", prefix);
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

}  // namespace

std::string_view protocol_name(std::uint8_t proto) noexcept {
    switch (proto) {
        case 1:
            return "ICMP";
        case 2:
            return "IGMP";
        case 4:
            return "IPIP";
        case 6:
            return "TCP";
        case 17:
            return "UDP";
        case 41:
            return "IPv6";
        case 47:
            return "GRE";
        case 50:
            return "ESP";
        case 51:
            return "AH";
        case 58:
            return "ICMPv6";
        case 89:
            return "OSPF";
        case 103:
            return "PIM";
        case 112:
            return "VRRP";
        case 132:
            return "SCTP";
        default:
            return "";
    }
}

void append_flow_json(fmt::memory_buffer& out, const FlowRecord& r) {
    auto it = std::back_inserter(out);
    fmt::format_to(it, R"({{"type":"{}","time_received_ns":{},"sequence_num":{},"sampling_rate":{},"sampler_address":)",
                   flow_type_name(r.type), r.time_received_ns, r.sequence_num, r.sampling_rate);
    append_quoted_address(out, r.sampler_address);
    fmt::format_to(it, R"(,"time_flow_start_ns":{},"time_flow_end_ns":{},"bytes":{},"packets":{},"src_addr":)",
                   r.time_flow_start_ns, r.time_flow_end_ns, r.bytes, r.packets);
    append_quoted_address(out, r.src_addr);
    out.append(std::string_view(R"(,"dst_addr":)"));
    append_quoted_address(out, r.dst_addr);
    const auto proto = protocol_name(r.proto);
    if (proto.empty()) {
        fmt::format_to(it, R"(,"etype":"{}","proto":"{}")", etype_name(r.etype), r.proto);
    } else {
        fmt::format_to(it, R"(,"etype":"{}","proto":"{}")", etype_name(r.etype), proto);
    }
    fmt::format_to(it, R"(,"src_port":{},"dst_port":{},"in_if":{},"out_if":{},"src_mac":)", r.src_port, r.dst_port,
                   r.in_if, r.out_if);
    append_mac(out, r.src_mac);
    out.append(std::string_view(R"(,"dst_mac":)"));
    append_mac(out, r.dst_mac);
    fmt::format_to(it,
                   R"(,"src_vlan":{},"dst_vlan":{},"vlan_id":{},"ip_tos":{},"forwarding_status":{},"ip_ttl":{},)"
                   R"("ip_flags":0,"tcp_flags":{},"icmp_type":{},"icmp_code":{},"ipv6_flow_label":{},)"
                   R"("fragment_id":0,"fragment_offset":0,"src_as":{},"dst_as":{},"next_hop":)",
                   r.src_vlan, r.dst_vlan, r.src_vlan, r.ip_tos, r.forwarding_status, r.ip_ttl, r.tcp_flags,
                   r.icmp_type, r.icmp_code, r.ipv6_flow_label, r.src_as, r.dst_as);
    append_quoted_address(out, r.next_hop);
    fmt::format_to(it, R"(,"next_hop_as":{},"src_net":)", r.next_hop_as);
    append_network(out, r.src_addr, r.src_mask);
    out.append(std::string_view(R"(,"dst_net":)"));
    append_network(out, r.dst_addr, r.dst_mask);
    out.append(std::string_view(R"(,"bgp_next_hop":)"));
    append_quoted_address(out, r.bgp_next_hop);
    fmt::format_to(it,
                   R"(,"bgp_communities":[],"as_path":[],"mpls_ttl":[],"mpls_label":[],"mpls_ip":[],)"
                   R"("observation_domain_id":{},"observation_point_id":0,"layer_stack":[],"layer_size":[],)"
                   R"("ipv6_routing_header_addresses":[],"ipv6_routing_header_seg_left":0,)"
                   R"("sampler_port":{},"flow_direction":{},"flow_end_reason":{}}})",
                   r.observation_domain_id, r.sampler_port,
                   r.direction == FlowDirection::unknown ? -1 : static_cast<int>(r.direction), r.flow_end_reason);
    out.push_back('\n');
}

std::string_view flow_csv_header() {
    return "type,time_received_ns,sampler_address,sequence_num,sampling_rate,time_flow_start_ns,time_flow_end_ns,"
           "src_addr,dst_addr,proto,src_port,dst_port,icmp_type,icmp_code,packets,bytes,tcp_flags,ip_tos,in_if,out_if,"
           "src_as,dst_as,next_hop";
}

void append_flow_csv(fmt::memory_buffer& out, const FlowRecord& r) {
    auto it = std::back_inserter(out);
    fmt::format_to(it, "{},{},", flow_type_name(r.type), r.time_received_ns);
    append_address(out, r.sampler_address);
    fmt::format_to(it, ",{},{},{},{},", r.sequence_num, r.sampling_rate, r.time_flow_start_ns, r.time_flow_end_ns);
    append_address(out, r.src_addr);
    out.push_back(',');
    append_address(out, r.dst_addr);
    fmt::format_to(it, ",{},{},{},{},{},{},{},{},{},{},{},{},{},", r.proto, r.src_port, r.dst_port, r.icmp_type,
                   r.icmp_code, r.packets, r.bytes, r.tcp_flags, r.ip_tos, r.in_if, r.out_if, r.src_as, r.dst_as);
    append_address(out, r.next_hop);
    out.push_back('\n');
}

FlowLineWriter::FlowLineWriter(std::FILE* out, FlowFormat format) : out_(out), format_(format) {}

void FlowLineWriter::write(std::span<const FlowRecord> records) {
    if (format_ == FlowFormat::none) return;
    if (format_ == FlowFormat::csv && !header_written_) {
        buffer_.append(flow_csv_header());
        buffer_.push_back('\n');
        header_written_ = true;
    }
    for (const auto& r : records) {
        if (format_ == FlowFormat::json)
            append_flow_json(buffer_, r);
        else
            append_flow_csv(buffer_, r);
    }
    lines_ += records.size();
    if (buffer_.size() >= (1u << 16)) flush();
}

bool FlowLineWriter::flush() {
    if (buffer_.size() != 0) {
        std::fwrite(buffer_.data(), 1, buffer_.size(), out_);
        buffer_.clear();
    }
    return std::fflush(out_) == 0 && !std::ferror(out_);
}

}  // namespace flowguard::exporters
