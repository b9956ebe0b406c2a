#pragma once
// A NetFlow v9 / IPFIX template compiled once into a decode plan: a short list of steps, each saying
// "read `length` bytes at `offset` and store them as `op`". Fields flowguard does not use are dropped
// at compile time (their bytes are only skipped), so the per-record loop runs over the few steps that
// matter and never looks at information-element ids.
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
    bytes, packets,
    src_v4, dst_v4, src_v6, dst_v6,
    next_hop_v4, next_hop_v6, bgp_next_hop_v4, bgp_next_hop_v6,
    proto, tos, tcp_flags, src_port, dst_port,
    in_if, out_if, src_as, dst_as, src_mask, dst_mask,
    src_vlan, dst_vlan, src_mac, dst_mac,
    direction, icmp_type_code, icmp_type, icmp_code, ttl, flow_label, forwarding_status, end_reason,
    // Times, normalised after the record is read (they need the packet header or exporter state).
    start_uptime_ms, end_uptime_ms, start_sec, end_sec, start_ms, end_ms,
    start_ntp_us, end_ntp_us, start_ntp_ns, end_ntp_ns, start_delta_us, end_delta_us,
    // Sampling and exporter facts, mostly in options records.
    sampler_id, sampling_interval, sampling_packet_interval, sampling_packet_space, sampling_size,
    sampling_population, system_init_ms,
};

struct DecodeStep {
    std::uint16_t offset = 0;  // from the record start; meaningful only in fixed-length plans
    std::uint16_t length = 0;  // kVariableLength for variable-length fields
    FieldOp op = FieldOp::skip;
};

struct DecodePlan {
    std::vector<DecodeStep> steps;  // fixed-length plan: only useful steps; variable: every field in order
    std::uint32_t record_length = 0;  // fixed-length plans: bytes per record
    std::uint32_t min_record_length = 0;  // variable-length plans: smallest possible record (>= 1)
    bool variable_length = false;
    bool is_options = false;
    std::uint16_t field_count = 0;
    std::uint16_t scope_field_count = 0;
};

// Zero-length fields are legal (Cisco sends v9 options scope fields of length 0) and take no bytes, but a
// record must occupy at least one byte, or a data set would hold infinitely many records.
enum class PlanError { none, no_fields, empty_record, variable_in_v9, too_long };

// Compiles the fields of one (options) template. `ipfix` selects IPFIX meanings of ids that differ from v9.
PlanError compile_plan(std::span<const TemplateField> fields, std::uint16_t scope_field_count, bool is_options,
                       bool ipfix, DecodePlan& plan);

}  // namespace flowguard::collector
