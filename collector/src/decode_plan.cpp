#include <flowguard/collector/decode_plan.hpp>

#include <algorithm>
#include <array>
#include <cstddef>

namespace flowguard::collector {
namespace {

// Precedence when several elements carry the same quantity: the lower rank wins.
// e.g. octetDeltaCount(1) over octetTotalCount(85) over postOctetDeltaCount(23).
struct Mapping {
    FieldOp op = FieldOp::skip;
    std::uint8_t rank = 0;
};

Mapping map_element(std::uint16_t id, bool ipfix) {
    switch (id) {
        case 1:
            return {FieldOp::bytes, 0};
        case 85:
            return {FieldOp::bytes, 1};
        case 23:
            return {FieldOp::bytes, 2};
        case 2:
            return {FieldOp::packets, 0};
        case 86:
            return {FieldOp::packets, 1};
        case 24:
            return {FieldOp::packets, 2};
        case 4:
            return {FieldOp::proto, 0};
        case 5:
            return {FieldOp::tos, 0};
        case 6:
            return {FieldOp::tcp_flags, 0};
        case 7:
            return {FieldOp::src_port, 0};
        case 8:
            return {FieldOp::src_v4, 0};
        case 9:
            return {FieldOp::src_mask, 0};
        case 29:
            return {FieldOp::src_mask, 1};
        case 10:
            return {FieldOp::in_if, 0};
        case 252:
            return {FieldOp::in_if, 1};
        case 11:
            return {FieldOp::dst_port, 0};
        case 12:
            return {FieldOp::dst_v4, 0};
        case 13:
            return {FieldOp::dst_mask, 0};
        case 30:
            return {FieldOp::dst_mask, 1};
        case 14:
            return {FieldOp::out_if, 0};
        case 253:
            return {FieldOp::out_if, 1};
        case 15:
            return {FieldOp::next_hop_v4, 0};
        case 62:
            return {FieldOp::next_hop_v6, 0};
        case 16:
            return {FieldOp::src_as, 0};
        case 17:
            return {FieldOp::dst_as, 0};
        case 18:
            return {FieldOp::bgp_next_hop_v4, 0};
        case 63:
            return {FieldOp::bgp_next_hop_v6, 0};
        case 21:
            return {FieldOp::end_uptime_ms, 0};
        case 22:
            return {FieldOp::start_uptime_ms, 0};
        case 27:
            return {FieldOp::src_v6, 0};
        case 28:
            return {FieldOp::dst_v6, 0};
        case 31:
            return {FieldOp::flow_label, 0};
        case 32:
            return {FieldOp::icmp_type_code, 0};
        case 139:
            return {FieldOp::icmp_type_code, 1};
        case 176:
            return {FieldOp::icmp_type, 0};
        case 178:
            return {FieldOp::icmp_type, 1};
        case 177:
            return {FieldOp::icmp_code, 0};
        case 179:
            return {FieldOp::icmp_code, 1};
        case 34:
            return {FieldOp::sampling_interval, 0};
        case 50:
            return {FieldOp::sampling_interval, 1};  // FLOW_SAMPLER_RANDOM_INTERVAL (v9 options)
        case 48:
            return {FieldOp::sampler_id, 0};
        case 302:
            return {FieldOp::sampler_id, 1};  // selectorId
        case 305:
            return {FieldOp::sampling_packet_interval, 0};
        case 306:
            return {FieldOp::sampling_packet_space, 0};
        case 309:
            return {FieldOp::sampling_size, 0};
        case 310:
            return {FieldOp::sampling_population, 0};
        case 56:
            return {FieldOp::src_mac, 0};
        // v9 uses 57 for the destination MAC (DST_MAC); IPFIX calls 57 postDestinationMACAddress and
        // has destinationMACAddress as 80.
        case 57:
            return {FieldOp::dst_mac, static_cast<std::uint8_t>(ipfix ? 1 : 0)};
        case 80:
            return {FieldOp::dst_mac, 0};
        case 58:
            return {FieldOp::src_vlan, 0};
        case 243:
            return {FieldOp::src_vlan, 1};
        case 59:
            return {FieldOp::dst_vlan, 0};
        case 254:
            return {FieldOp::dst_vlan, 1};
        case 61:
            return {FieldOp::direction, 0};
        case 89:
            return {FieldOp::forwarding_status, 0};
        case 136:
            return {FieldOp::end_reason, 0};
        case 192:
            return {FieldOp::ttl, 0};
        case 150:
            return {FieldOp::start_sec, 0};
        case 151:
            return {FieldOp::end_sec, 0};
        case 152:
            return {FieldOp::start_ms, 0};
        case 153:
            return {FieldOp::end_ms, 0};
        case 154:
            return {FieldOp::start_ntp_us, 0};
        case 155:
            return {FieldOp::end_ntp_us, 0};
        case 156:
            return {FieldOp::start_ntp_ns, 0};
        case 157:
            return {FieldOp::end_ntp_ns, 0};
        case 158:
            return {FieldOp::start_delta_us, 0};
        case 159:
            return {FieldOp::end_delta_us, 0};
        case 160:
            return {FieldOp::system_init_ms, 0};
        default:
            return {};
    }
}

// Addresses must have their exact size; integers may use IPFIX reduced-size encoding (1..8 bytes).
bool length_fits(FieldOp op, std::uint16_t length) {
    switch (op) {
        case FieldOp::src_v4:
        case FieldOp::dst_v4:
        case FieldOp::next_hop_v4:
        case FieldOp::bgp_next_hop_v4:
            return length == 4;
        case FieldOp::src_v6:
        case FieldOp::dst_v6:
        case FieldOp::next_hop_v6:
        case FieldOp::bgp_next_hop_v6:
            return length == 16;
        case FieldOp::src_mac:
        case FieldOp::dst_mac:
            return length == 6;
        case FieldOp::start_ntp_us:
        case FieldOp::end_ntp_us:
        case FieldOp::start_ntp_ns:
        case FieldOp::end_ntp_ns:
            return length == 8;
        default:
            return length >= 1 && length <= 8;
    }
}

// Which group a step goes to and, for integers and addresses, which record member it fills.
struct Placement {
    TypedSteps::Group group = TypedSteps::other;
    std::size_t member = 0;
};

Placement place(FieldOp op) {
    using G = TypedSteps::Group;
    switch (op) {
        case FieldOp::bytes:
            return {G::u64, offsetof(FlowRecord, bytes)};
        case FieldOp::packets:
            return {G::u64, offsetof(FlowRecord, packets)};
        case FieldOp::in_if:
            return {G::u32, offsetof(FlowRecord, in_if)};
        case FieldOp::out_if:
            return {G::u32, offsetof(FlowRecord, out_if)};
        case FieldOp::src_as:
            return {G::u32, offsetof(FlowRecord, src_as)};
        case FieldOp::dst_as:
            return {G::u32, offsetof(FlowRecord, dst_as)};
        case FieldOp::src_port:
            return {G::u16, offsetof(FlowRecord, src_port)};
        case FieldOp::dst_port:
            return {G::u16, offsetof(FlowRecord, dst_port)};
        case FieldOp::src_vlan:
            return {G::u16, offsetof(FlowRecord, src_vlan)};
        case FieldOp::dst_vlan:
            return {G::u16, offsetof(FlowRecord, dst_vlan)};
        case FieldOp::proto:
            return {G::u8, offsetof(FlowRecord, proto)};
        case FieldOp::tos:
            return {G::u8, offsetof(FlowRecord, ip_tos)};
        case FieldOp::tcp_flags:
            return {G::u8, offsetof(FlowRecord, tcp_flags)};
        case FieldOp::src_mask:
            return {G::u8, offsetof(FlowRecord, src_mask)};
        case FieldOp::dst_mask:
            return {G::u8, offsetof(FlowRecord, dst_mask)};
        case FieldOp::ttl:
            return {G::u8, offsetof(FlowRecord, ip_ttl)};
        case FieldOp::forwarding_status:
            return {G::u8, offsetof(FlowRecord, forwarding_status)};
        case FieldOp::end_reason:
            return {G::u8, offsetof(FlowRecord, flow_end_reason)};
        case FieldOp::direction:
            return {G::flag, offsetof(FlowRecord, direction)};  // 0 ingress, else egress
        case FieldOp::src_v4:
        case FieldOp::src_v6:
            return {G::addresses, offsetof(FlowRecord, src_addr)};
        case FieldOp::dst_v4:
        case FieldOp::dst_v6:
            return {G::addresses, offsetof(FlowRecord, dst_addr)};
        case FieldOp::next_hop_v4:
        case FieldOp::next_hop_v6:
            return {G::addresses, offsetof(FlowRecord, next_hop)};
        case FieldOp::bgp_next_hop_v4:
        case FieldOp::bgp_next_hop_v6:
            return {G::addresses, offsetof(FlowRecord, bgp_next_hop)};
        case FieldOp::start_uptime_ms:
        case FieldOp::start_sec:
        case FieldOp::start_ms:
        case FieldOp::start_ntp_us:
        case FieldOp::start_ntp_ns:
        case FieldOp::start_delta_us:
        case FieldOp::end_uptime_ms:
        case FieldOp::end_sec:
        case FieldOp::end_ms:
        case FieldOp::end_ntp_us:
        case FieldOp::end_ntp_ns:
        case FieldOp::end_delta_us:
            return {G::times, 0};
        default:
            return {};
    }
}

// Groups the storing steps of a flow-record plan by member type, keeping template order inside a group
// (a later address or time of the same kind wins, as it would field by field).
void compile_typed(const std::vector<DecodeStep>& steps, TypedSteps& typed) {
    std::array<std::vector<TypedStep>, TypedSteps::kGroups> groups;
    for (const auto& step : steps) {
        if (step.op == FieldOp::skip) continue;
        const auto where = place(step.op);
        const bool read_as_integer = where.group <= TypedSteps::flag || where.group == TypedSteps::times;
        static constexpr unsigned kWidth[] = {8, 4, 2, 1};  // of u64, u32, u16, u8
        auto group = where.group;
        if (group >= TypedSteps::u64 && group <= TypedSteps::u8 && step.length == kWidth[group - TypedSteps::u64])
            group = static_cast<TypedSteps::Group>(group - TypedSteps::u64 + TypedSteps::exact64);
        TypedStep t;
        t.at = static_cast<std::uint16_t>(read_as_integer ? step.offset + step.length : step.offset);
        t.member = static_cast<std::uint16_t>(where.member);
        t.length = step.length;
        t.etype = step.op == FieldOp::src_v4 ? kEtherTypeIPv4 : step.op == FieldOp::src_v6 ? kEtherTypeIPv6 : 0;
        t.shift = static_cast<std::uint8_t>(read_as_integer ? 64 - 8 * step.length : 0);
        t.segment = step.segment;
        t.op = step.op;
        if (t.segment != 0) typed.first_segment_only = false;
        t.is_end = step.op == FieldOp::end_uptime_ms || step.op == FieldOp::end_sec || step.op == FieldOp::end_ms ||
                   step.op == FieldOp::end_ntp_us || step.op == FieldOp::end_ntp_ns || step.op == FieldOp::end_delta_us;
        groups[group].push_back(t);
    }
    typed.steps.clear();
    for (std::size_t g = 0; g < groups.size(); ++g) {
        typed.group_start[g] = static_cast<std::uint16_t>(typed.steps.size());
        typed.steps.insert(typed.steps.end(), groups[g].begin(), groups[g].end());
    }
    typed.group_start[TypedSteps::kGroups] = static_cast<std::uint16_t>(typed.steps.size());
    typed.steps.shrink_to_fit();
}

constexpr std::size_t kOpCount = static_cast<std::size_t>(FieldOp::system_init_ms) + 1;

}  // namespace

PlanError compile_plan(std::span<const TemplateField> fields, std::uint16_t scope_field_count, bool is_options,
                       bool ipfix, DecodePlan& plan) {
    plan = DecodePlan{};
    plan.is_options = is_options;
    plan.field_count = static_cast<std::uint16_t>(fields.size());
    plan.scope_field_count = scope_field_count;
    if (fields.empty()) return PlanError::no_fields;

    // First pass: choose, per quantity, the element of best rank; later duplicates of it are skipped.
    std::array<int, kOpCount> best_rank;
    best_rank.fill(256);
    std::uint32_t fixed = 0;
    std::uint32_t minimum = 0;
    for (const auto& f : fields) {
        if (f.length == kVariableLength) {
            if (!ipfix) return PlanError::variable_in_v9;  // v9 has no variable-length fields
            plan.variable_length = true;
            minimum += 1;
        } else {
            fixed += f.length;
            minimum += f.length;
        }
        if (f.enterprise != 0 || f.length == kVariableLength) continue;
        const auto m = map_element(f.id, ipfix);
        if (m.op != FieldOp::skip && length_fits(m.op, f.length))
            best_rank[static_cast<std::size_t>(m.op)] =
                std::min<int>(best_rank[static_cast<std::size_t>(m.op)], m.rank);
    }
    if (minimum == 0) return PlanError::empty_record;
    if (minimum > 65535) return PlanError::too_long;

    std::uint32_t segment_offset = 0;
    std::vector<std::uint16_t> segment_lengths;
    for (const auto& f : fields) {
        const auto segment = static_cast<std::uint8_t>(std::min<std::size_t>(segment_lengths.size(), 255));
        DecodeStep step{static_cast<std::uint16_t>(segment_offset), f.length, FieldOp::skip, segment};
        if (f.enterprise == 0 && f.length != kVariableLength) {
            const auto m = map_element(f.id, ipfix);
            auto& best = best_rank[static_cast<std::size_t>(m.op)];
            if (m.op != FieldOp::skip && length_fits(m.op, f.length) && best == m.rank) {  // never a 0-length field
                step.op = m.op;
                best = -1;  // taken: a second element of the same rank stays a skip
            }
        }
        // Fixed-length plans keep only the steps that store something; offsets already skip the rest.
        if (plan.variable_length || step.op != FieldOp::skip) plan.steps.push_back(step);
        if (f.length == kVariableLength) {
            segment_lengths.push_back(static_cast<std::uint16_t>(segment_offset));
            segment_offset = 0;
        } else {
            segment_offset += f.length;
        }
    }
    segment_lengths.push_back(static_cast<std::uint16_t>(segment_offset));
    plan.record_length = plan.variable_length ? 0 : fixed;
    plan.has_typed = !is_options && segment_lengths.size() <= kMaxTypedSegments;
    if (plan.has_typed) {
        compile_typed(plan.steps, plan.typed);
        if (plan.variable_length) plan.typed.segment_lengths = std::move(segment_lengths);
    }
    plan.steps.shrink_to_fit();
    plan.min_record_length = minimum;
    return PlanError::none;
}

}  // namespace flowguard::collector
