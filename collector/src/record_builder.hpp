#pragma once
// Private: runs a DecodePlan over data records. The per-record work is a loop over the plan's steps
// with one switch on the step's op; values land straight in the FlowRecord, and times and sampling
// are resolved once per record after the loop.
#include "stream_state.hpp"
#include "wire_reader.hpp"

#include <flowguard/collector/decode_plan.hpp>
#include <flowguard/collector/export_packet.hpp>

#include <array>
#include <cstddef>
#include <new>
#include <vector>

namespace flowguard::collector {

class RecordBuilder {
public:
    RecordBuilder(const ExportPacket& packet, const PacketContext& ctx, StreamState& stream)
        : ctx_(ctx), stream_(stream) {
        base_.time_received_ns = ctx.received_ns;
        base_.sampler_address = packet.exporter;
        base_.sampler_port = packet.exporter_port;
        base_.type = ctx.type;
        base_.sequence_num = ctx.sequence;
        base_.observation_domain_id = ctx.domain;
        // The stream's rate, unless a record names its own sampler or rate (rare in flow records).
        base_.sampling_rate = stream.override_rate ? stream.override_rate : stream.default_rate;
    }

    // What every record of this packet shares. Records start as a copy of it: one block copy is cheaper
    // than initialising each member of a fresh record.
    const FlowRecord& base() const noexcept { return base_; }

    // Fixed-length flow records. `p` needs kDecodeLeadingBytes readable bytes before it (see TypedSteps).
    [[gnu::always_inline]] inline void build_fixed(const DecodePlan& plan, const std::uint8_t* p,
                                                   FlowRecord& r) const noexcept {
        Scratch scratch(sampling_);
        store_typed<false>(plan.typed, p, nullptr, r, scratch);
        finish(r, scratch);
    }

    // Variable-length flow records. Returns the record's length, or 0 if a field runs past `available`.
    std::size_t build_variable(const DecodePlan& plan, const std::uint8_t* p, std::size_t available,
                               FlowRecord& r) const noexcept {
        Scratch scratch(sampling_);
        std::size_t used = 0;
        if (plan.has_typed) {
            std::array<std::uint32_t, kMaxTypedSegments> starts;
            used = segment_starts(plan.typed.segment_lengths, p, available, starts);
            if (used != 0 && plan.typed.first_segment_only)
                store_typed<false>(plan.typed, p, nullptr, r, scratch);
            else if (used != 0)
                store_typed<true>(plan.typed, p, starts.data(), r, scratch);
        } else {
            used = walk_variable(plan, p, available, [&](FieldOp op, const std::uint8_t* v, std::uint16_t len) {
                store(op, v, len, r, scratch);
            });
        }
        if (used != 0) finish(r, scratch);
        return used;
    }

    void apply_options(const DecodePlan& plan, const std::uint8_t* p) const {
        Scratch scratch(sampling_);
        FlowRecord unused;
        for (const auto& step : plan.steps) store(step.op, p + step.offset, step.length, unused, scratch);
        learn(scratch);
    }

    std::size_t apply_options_variable(const DecodePlan& plan, const std::uint8_t* p, std::size_t available) const {
        Scratch scratch(sampling_);
        FlowRecord unused;
        const auto used = walk_variable(plan, p, available, [&](FieldOp op, const std::uint8_t* v, std::uint16_t len) {
            store(op, v, len, unused, scratch);
        });
        if (used != 0) learn(scratch);
        return used;
    }

private:
    // Sampling facts of one record: rare in flow records, so they live in the builder and are reset only
    // when a record reads one.
    struct Sampling {
        bool has_sampler_id = false;
        std::uint64_t sampler_id = 0;
        std::uint64_t interval = 0;
        std::uint64_t packet_interval = 0;
        std::uint64_t packet_space = 0;
        bool has_packet_sampling = false;
        std::uint64_t sampling_size = 0;        // random n-out-of-N (RFC 5477): n
        std::uint64_t sampling_population = 0;  // ... and N

        // 0 = none announced; kImplausibleRate = one beyond kMaxSamplingRate (refused and counted).
        std::uint64_t rate() const noexcept {
            std::uint64_t r = 0;
            if (interval)
                r = interval;
            else if (sampling_size && sampling_population >= sampling_size)
                r = sampling_population / sampling_size;
            else if (has_packet_sampling && packet_interval)
                r = saturating_add(packet_interval, packet_space) / packet_interval;
            return r > kMaxSamplingRate ? kImplausibleRate : r;
        }
    };

    // Raw values that need the whole record (or exporter state) before they mean something. Set up once
    // per record, so kept small: with the sampling fields inside, zeroing it compiled to a `rep stos` per
    // record.
    struct Scratch {
        explicit Scratch(Sampling& storage) : sampling_storage(&storage) {}

        FieldOp start_kind = FieldOp::skip;
        FieldOp end_kind = FieldOp::skip;
        bool has_init = false;
        bool has_icmp = false;
        bool has_sampling = false;
        std::uint64_t start = 0;
        std::uint64_t end = 0;
        std::uint64_t init_ms = 0;
        Sampling* sampling_storage;

        Sampling& sampling_fields() {
            if (!has_sampling) {
                *sampling_storage = Sampling{};
                has_sampling = true;
            }
            return *sampling_storage;
        }
        const Sampling* sampling_if_any() const { return has_sampling ? sampling_storage : nullptr; }
    };

    // Where each segment of a variable-length record starts (RFC 7011 7: a variable-length field has one
    // length byte, or 255 and then two). Returns the record's length, or 0 if it runs past `available`.
    static std::size_t segment_starts(const std::vector<std::uint16_t>& lengths, const std::uint8_t* p,
                                      std::size_t available,
                                      std::array<std::uint32_t, kMaxTypedSegments>& starts) noexcept {
        std::size_t pos = 0;
        starts[0] = 0;
        for (std::size_t i = 0; i + 1 < lengths.size(); ++i) {
            pos += lengths[i];
            if (pos + 1 > available) return 0;
            std::size_t len = p[pos++];
            if (len == 255) {
                if (pos + 2 > available) return 0;
                len = load_be16(p + pos);
                pos += 2;
            }
            pos += len;
            if (pos > available) return 0;
            starts[i + 1] = static_cast<std::uint32_t>(pos);
        }
        pos += lengths.back();
        return pos > available ? 0 : pos;
    }

    // One short loop per member type; `starts` is null for a fixed-length record (one segment).
    template <bool kSegmented>
    [[gnu::always_inline]] inline void store_typed(const TypedSteps& t, const std::uint8_t* p,
                                                   const std::uint32_t* starts, FlowRecord& r,
                                                   Scratch& scratch) const noexcept {
        const auto at = [p, starts](const TypedStep& s) {
            if constexpr (kSegmented)
                return p + starts[s.segment] + s.at;
            else
                return p + s.at;
        };
        auto* record = reinterpret_cast<std::byte*>(&r);
        // A typed store into the member itself: unlike memcpy it cannot alias the plan's steps, so the
        // compiler keeps them in registers across the loop.
        const auto put = [record](const TypedStep& s, auto value) {
            *std::launder(reinterpret_cast<decltype(value)*>(record + s.member)) = value;
        };
        // Most fields have their member's size: a plain load, no masking.
        for (const auto& s : t.group(TypedSteps::exact64)) put(s, load_be64(at(s) - 8));
        for (const auto& s : t.group(TypedSteps::exact32)) put(s, load_be32(at(s) - 4));
        for (const auto& s : t.group(TypedSteps::exact16)) put(s, load_be16(at(s) - 2));
        for (const auto& s : t.group(TypedSteps::exact8)) put(s, *(at(s) - 1));
        for (const auto& s : t.group(TypedSteps::u64)) put(s, read_uint_ending_at(at(s), s.shift));
        for (const auto& s : t.group(TypedSteps::u32))
            put(s, static_cast<std::uint32_t>(read_uint_ending_at(at(s), s.shift)));
        for (const auto& s : t.group(TypedSteps::u16))
            put(s, static_cast<std::uint16_t>(read_uint_ending_at(at(s), s.shift)));
        for (const auto& s : t.group(TypedSteps::u8))
            put(s, static_cast<std::uint8_t>(read_uint_ending_at(at(s), s.shift)));
        for (const auto& s : t.group(TypedSteps::flag))
            put(s, static_cast<std::uint8_t>(read_uint_ending_at(at(s), s.shift) != 0));
        for (const auto& s : t.group(TypedSteps::addresses)) {
            auto& address = *std::launder(reinterpret_cast<IpAddress*>(record + s.member));
            if (s.length == 16)
                address.assign_v6(at(s));
            else
                address.assign_v4(at(s));
            if (s.etype != 0) r.etype = s.etype;
        }
        for (const auto& s : t.group(TypedSteps::times)) {
            const auto value = read_uint_ending_at(at(s), s.shift);
            (s.is_end ? scratch.end_kind : scratch.start_kind) = s.op;
            (s.is_end ? scratch.end : scratch.start) = value;
        }
        for (const auto& s : t.group(TypedSteps::other)) store(s.op, at(s), s.length, r, scratch);
    }

    template <typename Visit>
    static std::size_t walk_variable(const DecodePlan& plan, const std::uint8_t* p, std::size_t available,
                                     Visit&& visit) noexcept {
        std::size_t pos = 0;
        for (const auto& step : plan.steps) {
            std::size_t len = step.length;
            if (len == kVariableLength) {  // RFC 7011 7: one length byte, or 255 then two bytes
                if (pos + 1 > available) return 0;
                len = p[pos++];
                if (len == 255) {
                    if (pos + 2 > available) return 0;
                    len = load_be16(p + pos);
                    pos += 2;
                }
            }
            if (pos + len > available) return 0;
            if (step.op != FieldOp::skip) visit(step.op, p + pos, static_cast<std::uint16_t>(len));
            pos += len;
        }
        return pos == 0 ? 0 : pos;
    }

    // Inlined into the step loop: a call per field would cost more than the field itself.
    [[gnu::always_inline]] static inline void store(FieldOp op, const std::uint8_t* v, std::uint16_t len, FlowRecord& r,
                                                    Scratch& s) noexcept {
        switch (op) {
            case FieldOp::skip:
                break;
            case FieldOp::bytes:
                r.bytes = read_uint(v, len);
                break;
            case FieldOp::packets:
                r.packets = read_uint(v, len);
                break;
            case FieldOp::src_v4:
                r.src_addr.assign_v4(v);
                r.etype = kEtherTypeIPv4;
                break;
            case FieldOp::dst_v4:
                r.dst_addr.assign_v4(v);
                break;
            case FieldOp::src_v6:
                r.src_addr.assign_v6(v);
                r.etype = kEtherTypeIPv6;
                break;
            case FieldOp::dst_v6:
                r.dst_addr.assign_v6(v);
                break;
            case FieldOp::next_hop_v4:
                r.next_hop.assign_v4(v);
                break;
            case FieldOp::next_hop_v6:
                r.next_hop.assign_v6(v);
                break;
            case FieldOp::bgp_next_hop_v4:
                r.bgp_next_hop.assign_v4(v);
                break;
            case FieldOp::bgp_next_hop_v6:
                r.bgp_next_hop.assign_v6(v);
                break;
            case FieldOp::proto:
                r.proto = static_cast<std::uint8_t>(read_uint(v, len));
                break;
            case FieldOp::tos:
                r.ip_tos = static_cast<std::uint8_t>(read_uint(v, len));
                break;
            case FieldOp::tcp_flags:
                r.tcp_flags = static_cast<std::uint8_t>(read_uint(v, len));
                break;
            case FieldOp::src_port:
                r.src_port = static_cast<std::uint16_t>(read_uint(v, len));
                break;
            case FieldOp::dst_port:
                r.dst_port = static_cast<std::uint16_t>(read_uint(v, len));
                break;
            case FieldOp::in_if:
                r.in_if = static_cast<std::uint32_t>(read_uint(v, len));
                break;
            case FieldOp::out_if:
                r.out_if = static_cast<std::uint32_t>(read_uint(v, len));
                break;
            case FieldOp::src_as:
                r.src_as = static_cast<std::uint32_t>(read_uint(v, len));
                break;
            case FieldOp::dst_as:
                r.dst_as = static_cast<std::uint32_t>(read_uint(v, len));
                break;
            case FieldOp::src_mask:
                r.src_mask = static_cast<std::uint8_t>(read_uint(v, len));
                break;
            case FieldOp::dst_mask:
                r.dst_mask = static_cast<std::uint8_t>(read_uint(v, len));
                break;
            case FieldOp::src_vlan:
                r.src_vlan = static_cast<std::uint16_t>(read_uint(v, len));
                break;
            case FieldOp::dst_vlan:
                r.dst_vlan = static_cast<std::uint16_t>(read_uint(v, len));
                break;
            case FieldOp::src_mac:
                r.src_mac = load_be_var(v, 6);
                break;
            case FieldOp::dst_mac:
                r.dst_mac = load_be_var(v, 6);
                break;
            case FieldOp::direction:
                r.direction = read_uint(v, len) == 0 ? FlowDirection::ingress : FlowDirection::egress;
                break;
            case FieldOp::icmp_type_code: {
                const auto tc = read_uint(v, len);
                r.icmp_type = static_cast<std::uint8_t>(tc >> 8);
                r.icmp_code = static_cast<std::uint8_t>(tc);
                s.has_icmp = true;
                break;
            }
            case FieldOp::icmp_type:
                r.icmp_type = static_cast<std::uint8_t>(read_uint(v, len));
                s.has_icmp = true;
                break;
            case FieldOp::icmp_code:
                r.icmp_code = static_cast<std::uint8_t>(read_uint(v, len));
                s.has_icmp = true;
                break;
            case FieldOp::ttl:
                r.ip_ttl = static_cast<std::uint8_t>(read_uint(v, len));
                break;
            case FieldOp::flow_label:
                r.ipv6_flow_label = static_cast<std::uint32_t>(read_uint(v, len)) & 0xfffff;
                break;
            case FieldOp::forwarding_status:
                r.forwarding_status = static_cast<std::uint8_t>(read_uint(v, len));
                break;
            case FieldOp::end_reason:
                r.flow_end_reason = static_cast<std::uint8_t>(read_uint(v, len));
                break;
            case FieldOp::start_uptime_ms:
            case FieldOp::start_sec:
            case FieldOp::start_ms:
            case FieldOp::start_ntp_us:
            case FieldOp::start_ntp_ns:
            case FieldOp::start_delta_us:
                s.start_kind = op;
                s.start = read_uint(v, len);
                break;
            case FieldOp::end_uptime_ms:
            case FieldOp::end_sec:
            case FieldOp::end_ms:
            case FieldOp::end_ntp_us:
            case FieldOp::end_ntp_ns:
            case FieldOp::end_delta_us:
                s.end_kind = op;
                s.end = read_uint(v, len);
                break;
            case FieldOp::sampler_id:
                s.sampling_fields().has_sampler_id = true;
                s.sampling_fields().sampler_id = read_uint(v, len);
                break;
            case FieldOp::sampling_interval:
                s.sampling_fields().interval = read_uint(v, len);
                break;
            case FieldOp::sampling_packet_interval:
                s.sampling_fields().packet_interval = read_uint(v, len);
                s.sampling_fields().has_packet_sampling = true;
                break;
            case FieldOp::sampling_packet_space:
                s.sampling_fields().packet_space = read_uint(v, len);
                s.sampling_fields().has_packet_sampling = true;
                break;
            case FieldOp::sampling_size:
                s.sampling_fields().sampling_size = read_uint(v, len);
                break;
            case FieldOp::sampling_population:
                s.sampling_fields().sampling_population = read_uint(v, len);
                break;
            case FieldOp::system_init_ms:
                s.has_init = true;
                s.init_ms = read_uint(v, len);
                break;
        }
    }

    std::uint64_t time_to_ns(FieldOp kind, std::uint64_t v, const Scratch& s) const noexcept {
        switch (kind) {
            case FieldOp::start_uptime_ms:
            case FieldOp::end_uptime_ms: {
                const auto t = static_cast<std::uint32_t>(v);
                if (ctx_.has_uptime) return ctx_.uptime_to_ns(t);
                const bool init = s.has_init || stream_.has_system_init;
                const auto init_ms = s.has_init ? s.init_ms : stream_.system_init_ms;
                return init ? (init_ms + t) * 1'000'000ull : 0;  // IPFIX without systemInitTime: unknown
            }
            case FieldOp::start_sec:
            case FieldOp::end_sec:
                return v * 1'000'000'000ull;
            case FieldOp::start_ms:
            case FieldOp::end_ms:
                return v * 1'000'000ull;
            case FieldOp::start_ntp_us:
            case FieldOp::end_ntp_us:
                return ntp_to_unix_ns(v, true);
            case FieldOp::start_ntp_ns:
            case FieldOp::end_ntp_ns:
                return ntp_to_unix_ns(v, false);
            case FieldOp::start_delta_us:
            case FieldOp::end_delta_us:
                return ctx_.export_ns - v * 1'000ull;
            default:
                return 0;
        }
    }

    [[gnu::always_inline]] inline void finish(FlowRecord& r, const Scratch& s) const noexcept {
        const bool has_start = s.start_kind != FieldOp::skip;
        const bool has_end = s.end_kind != FieldOp::skip;
        // A record without times is dated by its export packet, as nfdump does.
        r.time_flow_start_ns = has_start ? time_to_ns(s.start_kind, s.start, s) : ctx_.export_ns;
        r.time_flow_end_ns = has_end ? time_to_ns(s.end_kind, s.end, s) : r.time_flow_start_ns;
        if (!has_start && has_end) r.time_flow_start_ns = r.time_flow_end_ns;
        if (r.etype == 0 && r.dst_addr.is_v6()) r.etype = kEtherTypeIPv6;
        if (r.etype == 0 && r.dst_addr.is_v4()) r.etype = kEtherTypeIPv4;
        if (!s.has_icmp && r.is_icmp() && r.dst_port != 0) {  // exporters without ICMP fields use the port
            r.icmp_type = static_cast<std::uint8_t>(r.dst_port >> 8);
            r.icmp_code = static_cast<std::uint8_t>(r.dst_port);
        }
        if (const auto* sampling = s.sampling_if_any(); sampling && !stream_.override_rate) {
            // otherwise the base record's rate stands
            const auto own = sampling->rate();
            if (own == kImplausibleRate)
                ++stream_.stats.sampling_rejects;
            else if (own != 0)
                r.sampling_rate = own;
            else if (sampling->has_sampler_id)
                r.sampling_rate = stream_.rate_for_sampler(sampling->sampler_id);
        }
    }

    // Options data: remember sampling rates and the exporter's boot time for later data records.
    void learn(const Scratch& s) const {
        if (s.has_init) {
            stream_.system_init_ms = s.init_ms;
            stream_.has_system_init = true;
        }
        const auto* sampling = s.sampling_if_any();
        if (sampling == nullptr) return;
        const auto rate = sampling->rate();
        if (rate == 0) return;
        if (rate == kImplausibleRate) {
            ++stream_.stats.sampling_rejects;
            return;
        }
        const auto id = sampling->sampler_id;
        if (!sampling->has_sampler_id) {
            stream_.default_rate = rate;
        } else if (stream_.sampler_rates.size() < StreamState::kMaxSamplers || stream_.sampler_rates.contains(id)) {
            stream_.sampler_rates[id] = rate;
        } else {
            ++stream_.stats.sampler_rejects;
        }
    }

    FlowRecord base_;
    mutable Sampling sampling_;  // the current record's, when it has any (Scratch::sampling_fields)
    const PacketContext& ctx_;
    StreamState& stream_;
};

}  // namespace flowguard::collector
