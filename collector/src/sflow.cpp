#include "sflow.hpp"

#include <flowguard/collector/packet_parser.hpp>
#include <flowguard/core/byte_order.hpp>

namespace flowguard::collector {
namespace {

constexpr std::uint32_t kAddressIpv4 = 1;
constexpr std::uint32_t kAddressIpv6 = 2;

// Sample and record formats: enterprise 0 (sFlow standard) in the top 20 bits, format in the low 12.
constexpr std::uint32_t kFlowSample = 1;
constexpr std::uint32_t kCounterSample = 2;
constexpr std::uint32_t kExpandedFlowSample = 3;
constexpr std::uint32_t kExpandedCounterSample = 4;
constexpr std::uint32_t kRawPacketHeader = 1;
constexpr std::uint32_t kEthernetFrameData = 2;
constexpr std::uint32_t kIpv4Data = 3;
constexpr std::uint32_t kIpv6Data = 4;
constexpr std::uint32_t kExtendedSwitch = 1001;
constexpr std::uint32_t kExtendedRouter = 1002;
constexpr std::uint32_t kExtendedGateway = 1003;
constexpr std::uint32_t kGenericInterfaceCounters = 1;
constexpr std::size_t kGenericInterfaceCountersLength = 88;

constexpr std::uint32_t kHeaderEthernet = 1;
constexpr std::uint32_t kHeaderIpv4 = 11;
constexpr std::uint32_t kHeaderIpv6 = 12;

// Interface words of a compact flow sample: 2-bit format, 30-bit value.
constexpr std::uint32_t kInterfaceFormatIfIndex = 0;
constexpr std::uint32_t kInterfaceFormatDiscarded = 1;
constexpr std::uint32_t kInterfaceValueUnknown = 0x3fffffff;
constexpr std::uint8_t kForwardingStatusDropped = 128;  // IPFIX forwardingStatus "dropped", reason unknown

// A bounds-checked XDR reader: every read either succeeds or marks the cursor failed and returns 0.
class XdrCursor {
public:
    explicit XdrCursor(std::span<const std::uint8_t> data) : data_(data) {}

    std::uint32_t u32() noexcept {
        if (!need(4)) return 0;
        const auto v = load_be32(data_.data() + at_);
        at_ += 4;
        return v;
    }
    std::uint64_t u64() noexcept {
        if (!need(8)) return 0;
        const auto v = load_be64(data_.data() + at_);
        at_ += 8;
        return v;
    }
    // `length` bytes, then the XDR padding to a 4-byte boundary.
    std::span<const std::uint8_t> opaque(std::size_t length) noexcept {
        if (!need(length)) return {};
        const auto out = data_.subspan(at_, length);
        at_ += length;
        const std::size_t pad = (4 - length % 4) % 4;
        at_ += std::min(pad, data_.size() - at_);
        return out;
    }
    bool address(IpAddress& out) noexcept {
        const auto type = u32();
        if (type == kAddressIpv4 && need(4)) {
            out.assign_v4(data_.data() + at_);
            at_ += 4;
            return true;
        }
        if (type == kAddressIpv6 && need(16)) {
            out.assign_v6(data_.data() + at_);
            at_ += 16;
            return true;
        }
        failed_ = true;
        return false;
    }
    void fail() noexcept { failed_ = true; }
    bool failed() const noexcept { return failed_; }
    std::size_t remaining() const noexcept { return data_.size() - at_; }

private:
    bool need(std::size_t n) noexcept {
        if (failed_ || data_.size() - at_ < n) {
            failed_ = true;
            return false;
        }
        return true;
    }

    std::span<const std::uint8_t> data_;
    std::size_t at_ = 0;
    bool failed_ = false;
};

void apply_interface(std::uint32_t format, std::uint32_t value, bool output, FlowRecord& r) {
    std::uint32_t& slot = output ? r.out_if : r.in_if;
    slot = 0;
    if (format == kInterfaceFormatIfIndex) {
        if (value != kInterfaceValueUnknown) slot = value;
    } else if (output && format == kInterfaceFormatDiscarded) {
        r.forwarding_status = kForwardingStatusDropped;
    }  // format 2 (multiple outputs) names no single interface
}

void apply_packet(const PacketView& v, FlowRecord& r) {
    r.src_addr = v.src;
    r.dst_addr = v.dst;
    r.etype = v.etype;
    r.proto = v.proto;
    r.src_port = v.src_port;
    r.dst_port = v.dst_port;
    r.tcp_flags = v.tcp_flags;
    r.ip_tos = v.tos;
    r.ip_ttl = v.ttl;
    r.icmp_type = v.icmp_type;
    r.icmp_code = v.icmp_code;
    r.ipv6_flow_label = v.flow_label;
    if (v.src_mac != 0 || v.dst_mac != 0) {
        r.src_mac = v.src_mac;
        r.dst_mac = v.dst_mac;
    }
    if (v.vlan != 0) r.src_vlan = v.vlan;
}

// 802.1Q ids are 12 bits; agents send 0xffffffff (or other junk) for "no VLAN", reported as 0.
std::uint16_t vlan_id(std::uint32_t value) {
    return value <= 4095 ? static_cast<std::uint16_t>(value) : 0;
}

// What one flow sample's records tell; the record is emitted when an IP packet was found.
struct FlowSampleState {
    bool has_ip = false;
    bool from_header = false;  // the raw header wins over the IPv4/IPv6 summary records
};

void read_raw_header(XdrCursor& c, FlowRecord& r, FlowSampleState& state, PacketView& view) {
    const auto protocol = c.u32();
    const auto frame_length = c.u32();
    c.u32();  // bytes stripped from the frame (FCS, ...) before sampling
    const auto header = c.opaque(c.u32());
    if (c.failed()) return;
    r.bytes = frame_length;
    ParseResult parsed = ParseResult::not_ip;
    if (protocol == kHeaderEthernet)
        parsed = parse_frame(kLinkEthernet, header.data(), header.size(), view);
    else if (protocol == kHeaderIpv4 || protocol == kHeaderIpv6)
        parsed = parse_ip(header.data(), header.size(), view);
    if (parsed != ParseResult::ok) return;
    apply_packet(view, r);
    state.has_ip = state.from_header = true;
}

void read_ip_summary(XdrCursor& c, bool v6, FlowRecord& r, FlowSampleState& state) {
    const auto length = c.u32();
    const auto proto = c.u32();
    const auto src = c.opaque(v6 ? 16 : 4);
    const auto dst = c.opaque(v6 ? 16 : 4);
    const auto src_port = c.u32();
    const auto dst_port = c.u32();
    const auto tcp_flags = c.u32();
    const auto tos = c.u32();
    if (c.failed() || state.from_header) return;
    if (v6) {
        r.src_addr.assign_v6(src.data());
        r.dst_addr.assign_v6(dst.data());
    } else {
        r.src_addr.assign_v4(src.data());
        r.dst_addr.assign_v4(dst.data());
    }
    r.etype = v6 ? kEtherTypeIPv6 : kEtherTypeIPv4;
    r.proto = static_cast<std::uint8_t>(proto);
    r.src_port = static_cast<std::uint16_t>(src_port);
    r.dst_port = static_cast<std::uint16_t>(dst_port);
    r.tcp_flags = static_cast<std::uint8_t>(tcp_flags);
    r.ip_tos = static_cast<std::uint8_t>(tos);
    if (r.bytes == 0) r.bytes = length;
    state.has_ip = true;
}

void read_gateway(XdrCursor& c, FlowRecord& r) {
    IpAddress next_hop;
    c.address(next_hop);
    c.u32();  // the router's own AS
    const auto src_as = c.u32();
    c.u32();  // source peer AS
    std::uint32_t first_as = 0;
    std::uint32_t last_as = 0;
    const auto segments = c.u32();
    for (std::uint32_t s = 0; s < segments && !c.failed(); ++s) {
        c.u32();  // AS_SET or AS_SEQUENCE
        const auto count = c.u32();
        if (count > c.remaining() / 4) {
            c.fail();
            break;
        }
        for (std::uint32_t i = 0; i < count; ++i) {
            last_as = c.u32();
            if (s == 0 && i == 0) first_as = last_as;
        }
    }
    if (c.failed()) return;  // communities and local preference follow; nothing flowguard keeps
    r.bgp_next_hop = next_hop;
    r.src_as = src_as;
    r.next_hop_as = first_as;
    r.dst_as = last_as;
}

// One flow record of a flow sample. Returns false when its length runs past the sample.
bool read_flow_record(XdrCursor& sample, FlowRecord& r, FlowSampleState& state, PacketView& view,
                      SflowSampleCounts& counts) {
    const auto format = sample.u32();
    const auto body = sample.opaque(sample.u32());
    if (sample.failed()) return false;
    XdrCursor c(body);
    switch (format) {
        case kRawPacketHeader:
            read_raw_header(c, r, state, view);
            break;
        case kIpv4Data:
            read_ip_summary(c, false, r, state);
            break;
        case kIpv6Data:
            read_ip_summary(c, true, r, state);
            break;
        case kEthernetFrameData: {
            c.u32();  // frame length
            const auto src = c.opaque(6);
            const auto dst = c.opaque(6);
            if (!c.failed() && !state.from_header) {
                r.src_mac = load_be_var(src.data(), 6);
                r.dst_mac = load_be_var(dst.data(), 6);
            }
            break;
        }
        case kExtendedSwitch: {
            const auto src_vlan = c.u32();
            c.u32();
            const auto dst_vlan = c.u32();
            if (!c.failed()) {
                r.src_vlan = vlan_id(src_vlan);
                r.dst_vlan = vlan_id(dst_vlan);
            }
            break;
        }
        case kExtendedRouter: {
            IpAddress next_hop;
            c.address(next_hop);
            const auto src_mask = c.u32();
            const auto dst_mask = c.u32();
            if (!c.failed()) {
                r.next_hop = next_hop;
                r.src_mask = static_cast<std::uint8_t>(src_mask);
                r.dst_mask = static_cast<std::uint8_t>(dst_mask);
            }
            break;
        }
        case kExtendedGateway:
            read_gateway(c, r);
            break;
        default:
            ++counts.skipped;
            return true;
    }
    if (c.failed()) ++counts.errors;
    return true;
}

void read_flow_sample(XdrCursor& c, bool expanded, const FlowRecord& base, std::uint64_t rate_override,
                      const SampledPacketHandler& on_packet, SflowSampleCounts& counts, std::vector<FlowRecord>& out) {
    FlowRecord r = base;
    c.u32();  // sample sequence number
    if (expanded) {
        c.u32();  // source id type
        c.u32();  // source id index
    } else {
        c.u32();  // source id (type << 24 | index)
    }
    const auto rate = c.u32();
    c.u32();  // sample pool
    c.u32();  // drops
    if (expanded) {
        const auto in_format = c.u32();
        const auto in_value = c.u32();
        const auto out_format = c.u32();
        const auto out_value = c.u32();
        apply_interface(in_format, in_value, false, r);
        apply_interface(out_format, out_value, true, r);
    } else {
        const auto input = c.u32();
        const auto output = c.u32();
        apply_interface(input >> 30, input & 0x3fffffff, false, r);
        apply_interface(output >> 30, output & 0x3fffffff, true, r);
    }
    const auto records = c.u32();
    if (c.failed()) {
        ++counts.errors;
        return;
    }
    r.sampling_rate = rate_override ? rate_override : rate;
    r.packets = 1;
    FlowSampleState state;
    PacketView view;
    for (std::uint32_t i = 0; i < records; ++i) {
        if (!read_flow_record(c, r, state, view, counts)) {
            ++counts.errors;
            return;
        }
    }
    if (!state.has_ip) {
        ++counts.samples_without_ip;
        return;
    }
    out.push_back(r);
    ++counts.flow_samples;
    if (state.from_header && on_packet) on_packet(view, r);
}

// Three consecutive 32-bit counters, summed (read in order: operands of + have no evaluation order).
std::uint64_t sum_of_three(XdrCursor& c) {
    std::uint64_t sum = c.u32();
    sum += c.u32();
    sum += c.u32();
    return sum;
}

void read_interface_counters(XdrCursor& c, const FlowRecord& base, std::uint32_t sequence,
                             InterfaceCounterTable& table) {
    InterfaceKey key{base.sampler_address, base.observation_domain_id, c.u32()};
    InterfaceCounters k;
    k.updated_ns = base.time_received_ns;
    k.sample_sequence = sequence;
    k.if_type = c.u32();
    k.speed_bps = c.u64();
    k.direction = c.u32();
    const auto status = c.u32();
    k.admin_up = (status & 1) != 0;
    k.oper_up = (status & 2) != 0;
    k.in_octets = c.u64();
    k.in_packets = sum_of_three(c);  // unicast, multicast, broadcast
    k.in_discards = c.u32();
    k.in_errors = c.u32();
    c.u32();  // unknown protocols
    k.out_octets = c.u64();
    k.out_packets = sum_of_three(c);
    k.out_discards = c.u32();
    k.out_errors = c.u32();
    if (!c.failed()) table.update(key, k);
}

void read_counter_sample(XdrCursor& c, bool expanded, const FlowRecord& base, InterfaceCounterTable& table,
                         SflowSampleCounts& counts) {
    const auto sequence = c.u32();
    c.u32();  // source id (expanded: type, then index)
    if (expanded) c.u32();
    const auto records = c.u32();
    for (std::uint32_t i = 0; i < records && !c.failed(); ++i) {
        const auto format = c.u32();
        const auto body = c.opaque(c.u32());
        if (c.failed()) break;
        if (format == kGenericInterfaceCounters && body.size() >= kGenericInterfaceCountersLength) {
            XdrCursor counters(body);
            read_interface_counters(counters, base, sequence, table);
        }
    }
    if (c.failed())
        ++counts.errors;
    else
        ++counts.counter_samples;
}

}  // namespace

bool parse_sflow_header(std::span<const std::uint8_t> payload, SflowDatagram& out) noexcept {
    XdrCursor c(payload);
    if (c.u32() != 5) return false;
    if (!c.address(out.agent)) return false;
    out.sub_agent = c.u32();
    out.sequence = c.u32();
    out.uptime_ms = c.u32();
    out.sample_count = c.u32();
    if (c.failed()) return false;
    out.samples = payload.subspan(payload.size() - c.remaining());
    return true;
}

SflowSampleCounts decode_sflow_samples(const SflowDatagram& datagram, const FlowRecord& base,
                                       std::uint64_t rate_override, InterfaceCounterTable& counters,
                                       const SampledPacketHandler& on_packet, std::vector<FlowRecord>& out) {
    SflowSampleCounts counts;
    XdrCursor c(datagram.samples);
    for (std::uint32_t i = 0; i < datagram.sample_count; ++i) {
        const auto format = c.u32();
        const auto body = c.opaque(c.u32());
        if (c.failed()) {
            ++counts.errors;  // the datagram ends before the samples it announced
            break;
        }
        XdrCursor sample(body);
        switch (format) {
            case kFlowSample:
                read_flow_sample(sample, false, base, rate_override, on_packet, counts, out);
                break;
            case kExpandedFlowSample:
                read_flow_sample(sample, true, base, rate_override, on_packet, counts, out);
                break;
            case kCounterSample:
                read_counter_sample(sample, false, base, counters, counts);
                break;
            case kExpandedCounterSample:
                read_counter_sample(sample, true, base, counters, counts);
                break;
            default:
                ++counts.skipped;
                break;
        }
    }
    return counts;
}

}  // namespace flowguard::collector
