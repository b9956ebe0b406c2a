#include "pending_store.hpp"
#include "record_builder.hpp"
#include "sflow.hpp"
#include "stream_state.hpp"
#include "stream_table.hpp"
#include "wire_reader.hpp"

#include <flowguard/collector/decode_plan.hpp>
#include <flowguard/collector/flow_decoder.hpp>
#include <flowguard/core/log_throttle.hpp>

#include <boost/container_hash/hash.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace flowguard::collector {
namespace {

constexpr std::size_t kV5HeaderLength = 24;
constexpr std::size_t kV5RecordLength = 48;
constexpr std::size_t kV9HeaderLength = 20;
constexpr std::size_t kIpfixHeaderLength = 16;
constexpr std::size_t kSetHeaderLength = 4;
// An uptime that goes back by more than this is an exporter restart, not reordering.
constexpr std::uint32_t kUptimeRestartSlackMs = 10'000;

// Field and scope counts the RFCs allow: a record has fields, scope fields are among them and only in options
// templates, and an IPFIX options template has at least one (RFC 7011 3.4.2.2).
bool template_shape_valid(std::size_t field_count, std::size_t scope_count, bool options, bool ipfix) noexcept {
    return field_count != 0 && scope_count <= field_count && (options || scope_count == 0) &&
           !(options && ipfix && scope_count == 0);
}

// What a held template costs: its record, its slot in the stream's table, the field list and the plan's
// step arrays (with their allocations' headers). A 512-field template costs ~5 KB, a small one ~500 B.
std::size_t template_cost(const StoredTemplate& t) noexcept {
    constexpr std::size_t kAllocationHeader = 16;
    return sizeof(StoredTemplate) + sizeof(std::pair<std::uint16_t, std::unique_ptr<StoredTemplate>>) +
           4 * kAllocationHeader + t.fields.capacity() * sizeof(TemplateField) +
           t.plan.steps.capacity() * sizeof(DecodeStep) + t.plan.typed.steps.capacity() * sizeof(TypedStep) +
           t.plan.typed.segment_lengths.capacity() * sizeof(std::uint16_t);
}

}  // namespace

class FlowDecoder::Impl {
public:
    explicit Impl(const CollectorConfig& config)
        : config_(config),
          streams_(config.max_streams, config.max_streams_per_exporter, [this](StreamState& s) { retire(s); }),
          pending_(config.pending),
          interfaces_(config.max_interfaces) {
        for (const auto& e : config.exporters) rate_overrides_[e.address] = e.sampling_rate;
    }

    void decode(const ExportPacket& packet, std::vector<FlowRecord>& out) {
        ++totals_packets_;
        current_ = nullptr;
        const std::size_t records_before = out.size();
        const std::uint64_t errors_before = global_errors_;
        decode_datagram(packet, out);
        if (current_ != nullptr) streams_.touch(*current_, out.size() > records_before);
        if (global_errors_ != errors_before) note_garbage(packet);
        expire_pending(packet.received_ns);
    }

    void decode_datagram(const ExportPacket& packet, std::vector<FlowRecord>& out) {
        const auto& p = packet.payload;
        if (p.size() < 2) {
            reject_global(Rejection::short_datagram);
            return;
        }
        if (SflowDatagram datagram; parse_sflow_header(p, datagram)) {
            decode_sflow(packet, datagram, out);
            return;
        }
        switch (load_be16(p.data())) {
            case 5:
                decode_v5(packet, out);
                break;
            case 9:
                decode_v9(packet, out);
                break;
            case 10:
                decode_ipfix(packet, out);
                break;
            default:
                reject_global(Rejection::unknown_version);
                break;
        }
    }

    void finish() {
        pending_.drop_all([this](const PendingSet& set) { count_unknown(set.key.stream, set.size()); });
    }

    DecoderTotals totals() const {
        DecoderTotals t;
        t.packets = totals_packets_;
        t.decode_errors = global_errors_;
        t.stream_limit_drops = stream_limit_drops_;
        t.interface_counter_rejects = interfaces_.rejected();
        t.templates = template_total_;
        t.template_bytes = template_bytes_;
        t.streams = streams_.size();
        t.streams_evicted = streams_.evicted();
        t.pending_bytes = pending_.cost_bytes();
        // Evicted streams' counts stay in the totals: a counter never goes down.
        ExporterStats all = retired_;
        streams_.for_each([&](const StreamKey&, const StreamState& s) { all += stats_of(s); });
        t.records = all.records;
        t.decode_errors += all.decode_errors;
        t.unknown_template = all.unknown_template_sets;
        t.sequence_lost = all.sequence.lost;
        t.sequence_reordered = all.sequence.reordered;
        t.sequence_duplicate = all.sequence.duplicate;
        return t;
    }

    static ExporterStats stats_of(const StreamState& s) {
        ExporterStats stats = s.stats;
        stats.sequence = s.sequence_counters();
        return stats;
    }

    void for_each_stream(const std::function<void(const StreamKey&, const ExporterStats&)>& visit) const {
        streams_.for_each([&](const StreamKey& key, const StreamState& s) { visit(key, stats_of(s)); });
    }

    std::size_t template_count() const { return template_total_; }
    const InterfaceCounterTable& interfaces() const { return interfaces_; }
    void on_sampled_packet(SampledPacketHandler handler) { sampled_packet_ = std::move(handler); }

    void for_each_template(const std::function<void(const TemplateSnapshot&)>& visit) const {
        streams_.for_each([&](const StreamKey& stream, const StreamState& s) {
            for (const auto& [id, t] : s.templates)
                visit(TemplateSnapshot{stream, id, t->plan.is_options, t->plan.scope_field_count, t->fields,
                                       s.standing != StreamState::Standing::probation});
        });
    }

    // A saved template must have a shape the wire parser would have accepted: the state file is input too.
    bool restore(const TemplateSnapshot& snap) {
        const bool ipfix = snap.stream.version == 10;
        if ((snap.stream.version != 9 && !ipfix) || snap.id < 256 ||
            !template_shape_valid(snap.fields.size(), snap.scope_field_count, snap.options, ipfix) ||
            snap.fields.size() > config_.templates.max_fields_per_template)
            return false;
        for (std::size_t i = 0; i < snap.fields.size(); ++i) {
            const auto& f = snap.fields[i];
            const std::uint32_t v9_enterprise = snap.options && i < snap.scope_field_count ? 0xffffffff : 0;
            if (ipfix ? f.id > 0x7fff : f.enterprise != v9_enterprise) return false;
        }
        StreamState* s = stream_for(snap.stream);
        if (s == nullptr) return false;
        if (snap.proven) streams_.prove(*s);
        scratch_fields_ = snap.fields;
        std::vector<FlowRecord> unused;  // nothing is pending in a decoder that is just starting
        const auto before = s->stats.template_rejects;
        store_template(TemplateKey{snap.stream, snap.id}, *s, snap.scope_field_count, snap.options, ipfix, unused);
        return s->stats.template_rejects == before;
    }

private:
    StreamState* stream_for(const ExportPacket& packet, std::uint16_t version, std::uint32_t domain) {
        return stream_for(StreamKey{packet.exporter, packet.exporter_port, version, domain});
    }

    // Sequence windows follow what the version numbers: v9 counts packets (small jumps), v5 and IPFIX
    // count records (large jumps).
    static SequenceTracker tracker_for(std::uint16_t version) {
        return version == 9 ? SequenceTracker(1u << 20, 1024) : SequenceTracker(1u << 24, 1u << 16);
    }

    // Exporters send in bursts, so the stream of the previous packet is checked before hashing.
    StreamState* stream_for(const StreamKey& key) {
        if (last_stream_ == nullptr || !(last_stream_key_ == key)) {
            StreamState* s = streams_.find(key);
            if (s == nullptr) {
                const auto override_rate = rate_overrides_.find(key.exporter);
                const bool configured = override_rate != rate_overrides_.end();
                s = streams_.add(key, tracker_for(key.version), configured);
                if (s == nullptr) {
                    ++stream_limit_drops_;
                    return nullptr;
                }
                if (configured) s->override_rate = override_rate->second;
            }
            last_stream_key_ = key;
            last_stream_ = s;
        }
        current_ = last_stream_;
        return last_stream_;
    }

    // An evicted stream's counts join the retired totals, its templates leave the budget.
    void retire(StreamState& s) {
        retired_ += stats_of(s);
        for (const auto& [id, t] : s.templates) template_bytes_ -= t->cost;
        template_total_ -= s.templates.size();
        if (last_stream_ == &s) last_stream_ = nullptr;
        if (current_ == &s) current_ = nullptr;
    }

    // v5 and v9 carry the exporter's uptime: a jump back means it rebooted.
    static bool uptime_went_back(StreamState& s, std::uint32_t uptime_ms) {
        const bool restarted = s.uptime_seen && uptime_ms + kUptimeRestartSlackMs < s.max_uptime_ms;
        if (restarted || !s.uptime_seen || uptime_ms > s.max_uptime_ms) s.max_uptime_ms = uptime_ms;
        s.uptime_seen = true;
        return restarted;
    }

    void decode_v5(const ExportPacket& packet, std::vector<FlowRecord>& out) {
        const auto* p = packet.payload.data();
        const auto size = packet.payload.size();
        if (size < kV5HeaderLength) {
            reject_global(Rejection::short_datagram);
            return;
        }
        const std::uint16_t count = load_be16(p + 2);
        const std::uint32_t domain = (std::uint32_t{p[20]} << 8) | p[21];
        StreamState* s = stream_for(packet, 5, domain);
        if (s == nullptr) return;
        count_packet(*s, size, packet.received_ns);
        if (count == 0 || count > 30 || size < kV5HeaderLength + count * kV5RecordLength) {
            reject(*s, Rejection::v5_count);
            return;
        }
        PacketContext ctx;
        ctx.type = FlowType::netflow_v5;
        ctx.uptime_ms = load_be32(p + 4);
        ctx.has_uptime = true;
        ctx.export_ns = std::uint64_t{load_be32(p + 8)} * 1'000'000'000ull + load_be32(p + 12);
        ctx.sequence = load_be32(p + 16);
        ctx.received_ns = packet.received_ns;
        ctx.domain = domain;
        if (uptime_went_back(*s, ctx.uptime_ms))
            s->sequence.restart(ctx.sequence, count);
        else
            s->sequence.observe(ctx.sequence, count);
        const std::uint16_t interval = load_be16(p + 22) & 0x3fff;
        const std::uint64_t rate = s->override_rate ? s->override_rate : interval;

        for (std::size_t i = 0; i < count; ++i) {
            const auto* r = p + kV5HeaderLength + i * kV5RecordLength;
            // A fresh record rather than a copy of the builder's base: every field is written below, so the
            // compiler drops the zero-initialisation, which a block copy would not allow.
            FlowRecord& f = out.emplace_back();
            f.time_received_ns = ctx.received_ns;
            f.sampler_address = packet.exporter;
            f.sampler_port = packet.exporter_port;
            f.type = FlowType::netflow_v5;
            f.sequence_num = ctx.sequence;
            f.observation_domain_id = domain;
            f.src_addr.assign_v4(r);
            f.dst_addr.assign_v4(r + 4);
            f.next_hop.assign_v4(r + 8);
            f.etype = kEtherTypeIPv4;
            f.in_if = load_be16(r + 12);
            f.out_if = load_be16(r + 14);
            f.packets = load_be32(r + 16);
            f.bytes = load_be32(r + 20);
            f.time_flow_start_ns = ctx.uptime_to_ns(load_be32(r + 24));
            f.time_flow_end_ns = ctx.uptime_to_ns(load_be32(r + 28));
            f.src_port = load_be16(r + 32);
            f.dst_port = load_be16(r + 34);
            f.tcp_flags = r[37];
            f.proto = r[38];
            f.ip_tos = r[39];
            f.src_as = load_be16(r + 40);
            f.dst_as = load_be16(r + 42);
            f.src_mask = r[44];
            f.dst_mask = r[45];
            f.sampling_rate = rate;
            if (f.is_icmp()) {  // v5 has no ICMP fields: exporters put type*256+code in the destination port
                f.icmp_type = static_cast<std::uint8_t>(f.dst_port >> 8);
                f.icmp_code = static_cast<std::uint8_t>(f.dst_port);
            }
        }
        s->stats.records += count;
    }

    void decode_sflow(const ExportPacket& packet, const SflowDatagram& datagram, std::vector<FlowRecord>& out) {
        StreamState* s =
            stream_for(StreamKey{datagram.agent, packet.exporter_port, kSflowStreamVersion, datagram.sub_agent});
        if (s == nullptr) return;
        count_packet(*s, packet.payload.size(), packet.received_ns);
        // A configured rate may name the agent (as above) or the address the datagrams come from.
        std::uint64_t rate_override = s->override_rate;
        if (rate_override == 0)
            if (auto o = rate_overrides_.find(packet.exporter); o != rate_overrides_.end()) rate_override = o->second;
        // sFlow numbers datagrams per agent/sub-agent, and carries the agent's uptime.
        if (uptime_went_back(*s, datagram.uptime_ms))
            s->sequence.restart(datagram.sequence, 1);
        else
            s->sequence.observe(datagram.sequence, 1);
        FlowRecord base;
        base.time_received_ns = packet.received_ns;
        base.time_flow_start_ns = packet.received_ns;  // a packet sample has no flow times of its own
        base.time_flow_end_ns = packet.received_ns;
        base.sampler_address = datagram.agent;
        base.sampler_port = packet.exporter_port;
        base.type = FlowType::sflow5;
        base.sequence_num = datagram.sequence;
        base.observation_domain_id = datagram.sub_agent;
        const auto counts = decode_sflow_samples(datagram, base, rate_override, interfaces_, sampled_packet_, out);
        s->stats.records += counts.flow_samples;
        s->stats.counter_samples += counts.counter_samples;
        s->stats.samples_without_ip += counts.samples_without_ip;
        s->stats.skipped += counts.skipped;
        s->stats.decode_errors += counts.errors;
        rejections_[static_cast<std::size_t>(Rejection::sflow)] += counts.errors;
    }

    void decode_v9(const ExportPacket& packet, std::vector<FlowRecord>& out) {
        const auto* p = packet.payload.data();
        const auto size = packet.payload.size();
        if (size < kV9HeaderLength) {
            reject_global(Rejection::short_datagram);
            return;
        }
        PacketContext ctx;
        ctx.type = FlowType::netflow_v9;
        ctx.uptime_ms = load_be32(p + 4);
        ctx.has_uptime = true;
        ctx.export_ns = std::uint64_t{load_be32(p + 8)} * 1'000'000'000ull;
        ctx.sequence = load_be32(p + 12);
        ctx.domain = load_be32(p + 16);
        ctx.received_ns = packet.received_ns;
        StreamState* s = stream_for(packet, 9, ctx.domain);
        if (s == nullptr) return;
        count_packet(*s, size, packet.received_ns);
        // v9 numbers export packets, one per packet.
        if (uptime_went_back(*s, ctx.uptime_ms))
            s->sequence.restart(ctx.sequence, 1);
        else
            s->sequence.observe(ctx.sequence, 1);
        walk_sets(packet, ctx, *s, p + kV9HeaderLength, size - kV9HeaderLength, false, out);
    }

    void decode_ipfix(const ExportPacket& packet, std::vector<FlowRecord>& out) {
        const auto* p = packet.payload.data();
        const auto size = packet.payload.size();
        if (size < kIpfixHeaderLength) {
            reject_global(Rejection::short_datagram);
            return;
        }
        const std::uint16_t length = load_be16(p + 2);
        PacketContext ctx;
        ctx.type = FlowType::ipfix;
        ctx.export_ns = std::uint64_t{load_be32(p + 4)} * 1'000'000'000ull;
        ctx.sequence = load_be32(p + 8);
        ctx.domain = load_be32(p + 12);
        ctx.received_ns = packet.received_ns;
        StreamState* s = stream_for(packet, 10, ctx.domain);
        if (s == nullptr) return;
        count_packet(*s, size, packet.received_ns);
        if (length < kIpfixHeaderLength || length > size) {
            reject(*s, Rejection::message_length);
            return;
        }
        const auto result = walk_sets(packet, ctx, *s, p + kIpfixHeaderLength, length - kIpfixHeaderLength, true, out);
        // IPFIX numbers data records; a message with data we could not count only resynchronises.
        const bool rfc = s->numbering != StreamState::Numbering::inclusive;
        const bool inclusive = s->numbering != StreamState::Numbering::rfc;
        if (result.uncounted) {
            if (rfc) s->sequence.resync(ctx.sequence + result.data_records);
            if (inclusive) s->sequence_inclusive.resync(ctx.sequence);
        } else {
            if (rfc) s->sequence.observe(ctx.sequence, result.data_records);
            if (inclusive) s->sequence_inclusive.observe(ctx.sequence - result.flow_records, result.flow_records);
        }
        s->decide_numbering();
    }

    struct WalkResult {
        std::uint32_t data_records = 0;  // flow + options data records decoded now
        std::uint32_t flow_records = 0;  // of which flow records
        bool uncounted = false;          // some data set could not be decoded now (pending or dropped)
    };

    // The stream's own key (s.key) names its templates: no key is built per datagram.
    WalkResult walk_sets(const ExportPacket& packet, const PacketContext& ctx, StreamState& s, const std::uint8_t* p,
                         std::size_t remaining, bool ipfix, std::vector<FlowRecord>& out) {
        WalkResult result;
        while (remaining >= kSetHeaderLength) {
            const std::uint16_t set_id = load_be16(p);
            const std::uint16_t set_length = load_be16(p + 2);
            if (set_length < kSetHeaderLength || set_length > remaining) {
                reject(s, Rejection::set_length);
                result.uncounted = true;
                return result;
            }
            const std::uint8_t* body = p + kSetHeaderLength;
            const std::size_t body_length = set_length - kSetHeaderLength;
            const std::uint16_t template_set = ipfix ? 2 : 0;
            const std::uint16_t options_set = ipfix ? 3 : 1;
            if (set_id == template_set) {
                parse_templates(s.key, s, body, body_length, ipfix, false, out);
            } else if (set_id == options_set) {
                parse_templates(s.key, s, body, body_length, ipfix, true, out);
            } else if (set_id >= 256) {
                if (auto it = s.templates.find(set_id); it != s.templates.end()) {
                    const auto n = decode_data_set(packet, ctx, s, it->second->plan, body, body_length, out);
                    result.data_records += n;
                    if (!it->second->plan.is_options) result.flow_records += n;
                } else {
                    hold_pending(TemplateKey{s.key, set_id}, ctx, s, body, body_length);
                    result.uncounted = true;
                }
            }  // set ids 4..255 are reserved: skipped by their length, as the RFCs require
            p += set_length;
            remaining -= set_length;
        }
        return result;
    }

    void parse_templates(const StreamKey& stream_key, StreamState& s, const std::uint8_t* p, std::size_t remaining,
                         bool ipfix, bool options, std::vector<FlowRecord>& out);
    std::uint32_t decode_data_set(const ExportPacket& packet, const PacketContext& ctx, StreamState& s,
                                  const DecodePlan& plan, const std::uint8_t* p, std::size_t length,
                                  std::vector<FlowRecord>& out);
    void store_template(const TemplateKey& key, StreamState& s, std::uint16_t scope_count, bool options, bool ipfix,
                        std::vector<FlowRecord>& out);
    bool make_template_room(const StreamState& s, std::size_t added, std::size_t cost, std::size_t freed);
    void withdraw_templates(StreamState& s, std::uint16_t template_id, bool options);

    void hold_pending(const TemplateKey& key, const PacketContext& ctx, StreamState& s, const std::uint8_t* p,
                      std::size_t length) {
        const auto held = pending_.hold(key, ctx, p, length,
                                        [this](const PendingSet& set) { count_unknown(set.key.stream, set.size()); });
        if (held == PendingStore::Hold::held)
            ++s.stats.pending_sets;
        else
            count_unknown(s, length);
    }

public:
    void expire_pending(std::uint64_t now_ns) {
        pending_.expire(now_ns, [this](const PendingSet& set) { count_unknown(set.key.stream, set.size()); });
    }

private:
    // A template arrived: decode, in arrival order, the data that waited for it.
    void release_pending(const TemplateKey& key, StreamState& s, const DecodePlan& plan, std::vector<FlowRecord>& out) {
        pending_.release(key, [&](const PendingSet& set) {
            const ExportPacket origin{
                {set.body(), set.size()}, key.stream.exporter, key.stream.port, set.context.received_ns};
            s.stats.pending_decoded += decode_data_set(origin, set.context, s, plan, set.body(), set.size(), out);
        });
    }

    // Datagrams that are no flow export have no stream to be counted under: they are counted by reason and
    // their senders named in the log, at most once a minute per receive thread.
    void note_garbage(const ExportPacket& packet) {
        ++garbage_since_log_;
        if (!garbage_log_.due(packet.received_ns)) return;
        spdlog::warn(
            "{} datagram(s) that are not flow exports (too short or of an unknown version) since the last "
            "report, the last from {}:{} ({} bytes); counted in decode_errors by reason",
            garbage_since_log_, packet.exporter.to_string(), packet.exporter_port, packet.payload.size());
        garbage_since_log_ = 0;
    }

    void reject_global(Rejection why) noexcept {
        ++global_errors_;
        ++rejections_[static_cast<std::size_t>(why)];
    }
    void reject(StreamState& s, Rejection why) noexcept {
        ++s.stats.decode_errors;
        ++rejections_[static_cast<std::size_t>(why)];
    }

public:
    RejectionCounts rejections() const {
        RejectionCounts counts = rejections_;
        counts[static_cast<std::size_t>(Rejection::sampler_limit)] = sampler_limit_total();
        return counts;
    }

private:
    // Counted by the record builder per stream (it has no decoder); evicted streams' counts are in retired_.
    std::uint64_t sampler_limit_total() const {
        std::uint64_t n = retired_.sampler_rejects;
        streams_.for_each([&](const StreamKey&, const StreamState& s) { n += s.stats.sampler_rejects; });
        return n;
    }

    static void count_packet(StreamState& s, std::size_t size, std::uint64_t received_ns) {
        ++s.stats.packets;
        s.stats.last_packet_ns = std::max(s.stats.last_packet_ns, received_ns);
        s.stats.bytes += size;
    }

    static void count_unknown(ExporterStats& stats, std::size_t bytes) {
        ++stats.unknown_template_sets;
        stats.unknown_template_bytes += bytes;
    }
    static void count_unknown(StreamState& s, std::size_t bytes) { count_unknown(s.stats, bytes); }
    // A held set dropped after its stream was evicted still counts, in the retired totals.
    void count_unknown(const StreamKey& stream, std::size_t bytes) {
        StreamState* s = streams_.find(stream);
        count_unknown(s != nullptr ? s->stats : retired_, bytes);
    }

    CollectorConfig config_;
    StreamTable streams_;
    StreamKey last_stream_key_;
    StreamState* last_stream_ = nullptr;  // the previous datagram's stream (reset when it is evicted)
    StreamState* current_ = nullptr;      // the stream of the datagram being decoded
    ExporterStats retired_;               // counts of evicted streams
    std::size_t template_total_ = 0;      // over every stream
    std::size_t template_bytes_ = 0;
    boost::unordered_flat_map<IpAddress, std::uint64_t, boost::hash<IpAddress>> rate_overrides_;
    PendingStore pending_;
    std::vector<TemplateField> scratch_fields_;
    std::uint64_t totals_packets_ = 0;
    std::uint64_t global_errors_ = 0;
    RejectionCounts rejections_{};
    std::uint64_t garbage_since_log_ = 0;
    LogThrottle garbage_log_;
    std::uint64_t stream_limit_drops_ = 0;
    InterfaceCounterTable interfaces_;
    SampledPacketHandler sampled_packet_;
};

void FlowDecoder::Impl::parse_templates(const StreamKey& stream_key, StreamState& s, const std::uint8_t* p,
                                        std::size_t remaining, bool ipfix, bool options, std::vector<FlowRecord>& out) {
    // Template record: id, field count, fields. IPFIX options: id, field count, scope field count, fields.
    // v9 options: id, scope length in bytes, option length in bytes, fields. IPFIX fields may carry an
    // enterprise number. A withdrawal (IPFIX) is an id with a field count of 0.
    while (remaining >= 4) {
        const std::uint16_t template_id = load_be16(p);
        std::size_t field_count = load_be16(p + 2);
        if (ipfix && field_count == 0 && template_id >= 2) {
            withdraw_templates(s, template_id, options);
            p += 4;
            remaining -= 4;
            continue;
        }
        if (template_id < 256) {
            // Zeros after the last template are padding; any other id below 256 is malformed.
            if (template_id != 0) reject(s, Rejection::template_record);
            return;
        }
        std::size_t scope_count = 0;
        const std::size_t header = options ? 6 : 4;
        if (remaining < header) {
            reject(s, Rejection::template_record);
            return;
        }
        if (options && ipfix) {
            scope_count = load_be16(p + 4);
        } else if (options) {
            const std::uint16_t scope_bytes = load_be16(p + 2);
            const std::uint16_t option_bytes = load_be16(p + 4);
            if (scope_bytes % 4 != 0 || option_bytes % 4 != 0) {
                reject(s, Rejection::options_scope);
                return;
            }
            scope_count = scope_bytes / 4u;
            field_count = scope_count + option_bytes / 4u;
        }
        if (!template_shape_valid(field_count, scope_count, options, ipfix)) {
            reject(s, options ? Rejection::options_scope : Rejection::template_record);
            return;
        }
        if (field_count > config_.templates.max_fields_per_template) {
            ++s.stats.template_rejects;
            return;  // its length is unknown without parsing every field: stop at this set
        }
        p += header;
        remaining -= header;
        scratch_fields_.clear();
        for (std::size_t i = 0; i < field_count; ++i) {
            if (remaining < 4) {
                reject(s, Rejection::template_record);
                return;
            }
            TemplateField f;
            f.id = load_be16(p);
            f.length = load_be16(p + 2);
            p += 4;
            remaining -= 4;
            if (ipfix && (f.id & 0x8000)) {
                if (remaining < 4) {
                    reject(s, Rejection::template_record);
                    return;
                }
                f.id &= 0x7fff;
                f.enterprise = load_be32(p);
                p += 4;
                remaining -= 4;
            }
            // v9 scope fields are scope types (system, interface, ...), not information elements.
            if (!ipfix && i < scope_count) f.enterprise = 0xffffffff;
            scratch_fields_.push_back(f);
        }
        ++s.stats.templates;
        store_template(TemplateKey{stream_key, template_id}, s, static_cast<std::uint16_t>(scope_count), options, ipfix,
                       out);
    }
}

void FlowDecoder::Impl::store_template(const TemplateKey& key, StreamState& s, std::uint16_t scope_count, bool options,
                                       bool ipfix, std::vector<FlowRecord>& out) {
    auto it = s.templates.find(key.id);
    if (it != s.templates.end()) {
        const auto& old = *it->second;
        if (old.plan.is_options == options && old.plan.scope_field_count == scope_count &&
            std::equal(old.fields.begin(), old.fields.end(), scratch_fields_.begin(), scratch_fields_.end(),
                       [](const TemplateField& a, const TemplateField& b) {
                           return a.id == b.id && a.length == b.length && a.enterprise == b.enterprise;
                       }))
            return;  // a refresh of what we hold: nothing to recompile
    }
    DecodePlan plan;
    if (compile_plan(scratch_fields_, scope_count, options, ipfix, plan) != PlanError::none) {
        ++s.stats.template_rejects;
        return;
    }
    // A typed plan never walks its steps; a quarter of a held template's memory is not kept for nothing.
    if (plan.has_typed) plan.steps = {};
    auto stored = std::make_unique<StoredTemplate>();
    stored->fields = scratch_fields_;
    stored->plan = std::move(plan);
    stored->cost = template_cost(*stored);
    const bool added = it == s.templates.end();
    if (added && s.templates.size() >= config_.templates.max_templates_per_exporter) {
        ++s.stats.template_rejects;
        return;
    }
    const std::size_t freed = added ? 0 : it->second->cost;
    if (!make_template_room(s, added ? 1 : 0, stored->cost, freed)) {
        ++s.stats.template_rejects;
        return;
    }
    template_bytes_ += stored->cost;
    if (added) {
        it = s.templates.try_emplace(key.id).first;
        ++template_total_;
    } else {
        template_bytes_ -= freed;
        ++s.stats.template_changes;
    }
    it->second = std::move(stored);
    release_pending(key, s, it->second->plan, out);
}

// The template budget (count and bytes, collector.templates) is made room in by evicting whole streams other
// than the one defining: streams on probation first, and proven streams only for a stream that is itself
// proven or pinned, so a flood of templates from spoofed sources cannot push out an established exporter's.
bool FlowDecoder::Impl::make_template_room(const StreamState& s, std::size_t added, std::size_t cost,
                                           std::size_t freed) {
    const auto fits = [&] {
        return template_total_ + added <= config_.templates.max_templates &&
               template_bytes_ + cost - freed <= config_.templates.max_bytes;
    };
    const bool may_evict_proven = s.standing != StreamState::Standing::probation;
    while (!fits())
        if (!streams_.evict_one(&s, may_evict_proven)) return false;
    return true;
}

void FlowDecoder::Impl::withdraw_templates(StreamState& s, std::uint16_t template_id, bool options) {
    // Id 2 (templates) or 3 (options templates) withdraws every template of that kind from the stream.
    const bool all = template_id == (options ? 3 : 2);
    const auto erased = boost::unordered::erase_if(s.templates, [&](const auto& kv) {
        const bool withdrawn = kv.second->plan.is_options == options && (all || kv.first == template_id);
        if (withdrawn) template_bytes_ -= kv.second->cost;
        return withdrawn;
    });
    template_total_ -= erased;
    s.stats.template_withdrawals += erased;
}

std::uint32_t FlowDecoder::Impl::decode_data_set(const ExportPacket& packet, const PacketContext& ctx, StreamState& s,
                                                 const DecodePlan& plan, const std::uint8_t* p, std::size_t length,
                                                 std::vector<FlowRecord>& out) {
    RecordBuilder builder(packet, ctx, s);
    std::uint32_t decoded = 0;
    if (!plan.variable_length) {
        const std::size_t record_length = plan.record_length;
        // Whatever is left shorter than one record is padding (RFC 3954 5.3, RFC 7011 3.3.1).
        for (; length >= record_length; p += record_length, length -= record_length) {
            if (plan.is_options)
                builder.apply_options(plan, p);
            else
                builder.build_fixed(plan, p, out.emplace_back(builder.base()));
            ++decoded;
        }
    } else {
        while (length >= plan.min_record_length) {
            std::size_t used = 0;
            if (plan.is_options) {
                used = builder.apply_options_variable(plan, p, length);
            } else {
                used = builder.build_variable(plan, p, length, out.emplace_back(builder.base()));
                if (used == 0) out.pop_back();
            }
            if (used == 0) {
                reject(s, Rejection::variable_field);  // ran past the set
                break;
            }
            p += used;
            length -= used;
            ++decoded;
        }
    }
    if (decoded == 0 && length > 0) ++rejections_[static_cast<std::size_t>(Rejection::short_data_set)];
    if (plan.is_options)
        s.stats.options_records += decoded;
    else
        s.stats.records += decoded;
    return decoded;
}

FlowDecoder::FlowDecoder(const CollectorConfig& config) : impl_(std::make_unique<Impl>(config)) {}
FlowDecoder::~FlowDecoder() = default;
void FlowDecoder::decode(const ExportPacket& packet, std::vector<FlowRecord>& out) {
    impl_->decode(packet, out);
}
void FlowDecoder::expire(std::uint64_t now_ns) {
    impl_->expire_pending(now_ns);
}
void FlowDecoder::finish() {
    impl_->finish();
}
DecoderTotals FlowDecoder::totals() const {
    return impl_->totals();
}
RejectionCounts FlowDecoder::rejections() const {
    return impl_->rejections();
}
void FlowDecoder::for_each_stream(const std::function<void(const StreamKey&, const ExporterStats&)>& visit) const {
    impl_->for_each_stream(visit);
}
std::size_t FlowDecoder::template_count() const {
    return impl_->template_count();
}
void FlowDecoder::for_each_template(const std::function<void(const TemplateSnapshot&)>& visit) const {
    impl_->for_each_template(visit);
}
bool FlowDecoder::restore(const TemplateSnapshot& snapshot) {
    return impl_->restore(snapshot);
}
void FlowDecoder::for_each_interface(
    const std::function<void(const InterfaceKey&, const InterfaceCounters&)>& visit) const {
    impl_->interfaces().for_each(visit);
}
std::size_t FlowDecoder::interface_count() const {
    return impl_->interfaces().size();
}

DecoderSnapshot FlowDecoder::snapshot() const {
    DecoderSnapshot snap;
    snap.totals = totals();
    snap.rejections = rejections();
    for_each_stream([&](const StreamKey& key, const ExporterStats& s) { snap.streams.emplace_back(key, s); });
    for_each_interface(
        [&](const InterfaceKey& key, const InterfaceCounters& c) { snap.interfaces.emplace_back(key, c); });
    return snap;
}
void FlowDecoder::on_sampled_packet(SampledPacketHandler handler) {
    impl_->on_sampled_packet(std::move(handler));
}

const char* stream_protocol_name(std::uint16_t version) noexcept {
    switch (version) {
        case 5:
            return "netflow_v5";
        case 9:
            return "netflow_v9";
        case 10:
            return "ipfix";
        case kSflowStreamVersion:
            return "sflow5";
        default:
            return "unknown";
    }
}

namespace {

// The sets after an export header tile the rest of the message exactly, at least one of them, each of a
// known kind (templates, options templates, data: >= 256) and no shorter than its own header. A datagram
// that merely starts like an export - a DNS message whose transaction id is 5, 9 or 10 - does not.
bool sets_tile(std::span<const std::uint8_t> sets, std::uint16_t templates, std::uint16_t options) noexcept {
    std::size_t at = 0;
    while (at < sets.size()) {
        if (sets.size() - at < kSetHeaderLength) return false;
        const std::uint16_t id = load_be16(sets.data() + at);
        const std::size_t length = load_be16(sets.data() + at + 2);
        if ((id < 256 && id != templates && id != options) || length < kSetHeaderLength || length > sets.size() - at)
            return false;
        at += length;
    }
    return at > 0;
}

}  // namespace

bool is_flow_export(std::span<const std::uint8_t> payload) noexcept {
    if (SflowDatagram datagram; parse_sflow_header(payload, datagram))
        return datagram.sample_count >= 1 && datagram.sample_count <= datagram.samples.size() / 8;
    if (payload.size() < kV9HeaderLength) return false;
    const std::uint16_t version = load_be16(payload.data());
    const std::size_t count = load_be16(payload.data() + 2);
    switch (version) {
        case 10:  // IPFIX: the header's length is the message's
            return count == payload.size() && sets_tile(payload.subspan(kIpfixHeaderLength), 2, 3);
        case 5:
            return count >= 1 && count <= 30 && kV5HeaderLength + kV5RecordLength * count == payload.size();
        case 9:  // flowsets 0 (templates), 1 (options templates), >= 256 (data)
            return count >= 1 && count <= 1000 && sets_tile(payload.subspan(kV9HeaderLength), 0, 1);
        default:
            return false;
    }
}

}  // namespace flowguard::collector
