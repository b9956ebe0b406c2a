#pragma once
// A NetFlow v9 / IPFIX template compiled once into a decode plan: a short list of steps, each saying
// "read `length` bytes at `offset` and store them as `op`". Fields flowguard does not use are dropped
// at compile time (their bytes are only skipped), so the per-record loop runs over the few steps that
// matter and never looks at information-element ids.
#include <flowguard/core/flow_record.hpp>

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace flowguard::collector {

// One template field as announced by the exporter.
struct TemplateField {
    std::uint16_t id = 0;          // information element id, enterprise bit cleared
    std::uint16_t length = 0;      // 65535 = variable length (IPFIX)
    std::uint32_t enterprise = 0;  // private enterprise number, 0 for IANA elements
};

inline constexpr std::uint16_t kVariableLength = 65535;

enum class FieldOp : std::uint8_t {
    skip,
    bytes,
    packets,
    src_v4,
    dst_v4,
    src_v6,
    dst_v6,
    next_hop_v4,
    next_hop_v6,
    bgp_next_hop_v4,
    bgp_next_hop_v6,
    proto,
    tos,
    tcp_flags,
    src_port,
    dst_port,
    in_if,
    out_if,
    src_as,
    dst_as,
    src_mask,
    dst_mask,
    src_vlan,
    dst_vlan,
    src_mac,
    dst_mac,
    direction,
    icmp_type_code,
    icmp_type,
    icmp_code,
    ttl,
    flow_label,
    forwarding_status,
    end_reason,
    // Times, normalised after the record is read (they need the packet header or exporter state).
    start_uptime_ms,
    end_uptime_ms,
    start_sec,
    end_sec,
    start_ms,
    end_ms,
    start_ntp_us,
    end_ntp_us,
    start_ntp_ns,
    end_ntp_ns,
    start_delta_us,
    end_delta_us,
    // Sampling and exporter facts, mostly in options records.
    sampler_id,
    sampling_interval,
    sampling_packet_interval,
    sampling_packet_space,
    sampling_size,
    sampling_population,
    system_init_ms,
};

// A record is cut into segments at its variable-length fields: segment 0 starts with the record, each
// later one right after a variable-length field. A fixed-length record is one segment.
struct DecodeStep {
    std::uint16_t offset = 0;  // from the start of its segment
    std::uint16_t length = 0;  // kVariableLength for variable-length fields
    FieldOp op = FieldOp::skip;
    std::uint8_t segment = 0;
};

// Flow-record plans are compiled once more, into steps grouped by the type of record member they fill:
// a handful of short loops, each a load and a store with no per-field dispatch (nfdump's compiled
// sequence). Integers are read through one 8-byte load that ends where the field ends, so reduced-size
// fields need no branch on their length; that load reaches up to 7 bytes before the field, which the
// export header (or the pad of a held set) always provides.
struct TypedStep {
    std::uint16_t at = 0;      // from its segment's start: field end (integers, times), else field start
    std::uint16_t member = 0;  // offset of the FlowRecord member filled (integers, addresses)
    std::uint16_t length = 0;
    std::uint16_t etype = 0;  // source addresses: the record's address family
    std::uint8_t shift = 0;   // integers and times: 64 - 8 * length, clears the bytes before the field
    std::uint8_t segment = 0;
    FieldOp op = FieldOp::skip;
    bool is_end = false;  // times: the flow's end rather than its start
};

// Beyond this many segments a variable-length plan is walked field by field (hostile templates).
inline constexpr std::size_t kMaxTypedSegments = 16;

struct TypedSteps {
    // One allocation, in groups: what a template holds is multiplied by every exporter's templates.
    // exactN: an N-bit member from exactly N bits (no reduced-size masking); uN: from fewer or more bytes;
    // flag: 0 or 1.
    enum Group : std::uint8_t {
        exact64,
        exact32,
        exact16,
        exact8,
        u64,
        u32,
        u16,
        u8,
        flag,
        addresses,
        times,
        other,
        kGroups
    };
    std::vector<TypedStep> steps;
    std::array<std::uint16_t, kGroups + 1> group_start{};  // group g is [group_start[g], group_start[g + 1])
    std::vector<std::uint16_t> segment_lengths;            // fixed bytes of each segment (variable-length plans)
    bool first_segment_only = true;  // no step after a variable-length field (e.g. a name at the end)

    std::span<const TypedStep> group(Group g) const noexcept {
        return {steps.data() + group_start[g], steps.data() + group_start[g + 1]};
    }
};

// How many bytes before a record a typed decode may read (see TypedSteps).
inline constexpr std::size_t kDecodeLeadingBytes = 7;

struct DecodePlan {
    // The field-by-field form (options records, hostile variable-length plans; a decoder holding a typed
    // plan may drop it): fixed-length plan: only useful steps; variable: every field in order.
    std::vector<DecodeStep> steps;
    std::uint32_t record_length = 0;      // fixed-length plans: bytes per record
    std::uint32_t min_record_length = 0;  // variable-length plans: smallest possible record (>= 1)
    bool variable_length = false;
    bool is_options = false;
    std::uint16_t field_count = 0;
    std::uint16_t scope_field_count = 0;
    bool has_typed = false;  // flow-record plans with at most kMaxTypedSegments segments
    TypedSteps typed;
};

// Zero-length fields are legal (Cisco sends v9 options scope fields of length 0) and take no bytes, but a
// record must occupy at least one byte, or a data set would hold infinitely many records.
enum class PlanError { none, no_fields, empty_record, variable_in_v9, too_long };

// Compiles the fields of one (options) template. `ipfix` selects IPFIX meanings of ids that differ from v9.
PlanError compile_plan(std::span<const TemplateField> fields, std::uint16_t scope_field_count, bool is_options,
                       bool ipfix, DecodePlan& plan);

}  // namespace flowguard::collector
