#pragma once
// Private: what the decoder knows about one exporter stream and one export packet.
#include <flowguard/collector/decode_plan.hpp>
#include <flowguard/collector/exporter_stats.hpp>
#include <flowguard/collector/flow_decoder.hpp>
#include <flowguard/collector/sequence_tracker.hpp>
#include <flowguard/core/flow_record.hpp>

#include <boost/intrusive/list.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include <cstdint>
#include <memory>
#include <vector>

namespace flowguard::collector {

struct StoredTemplate {
    std::vector<TemplateField> fields;
    DecodePlan plan;
    std::size_t cost = 0;  // bytes charged against collector.templates.max_bytes
};

// Header facts of one export packet that record decoding needs (kept with data pending its template).
struct PacketContext {
    FlowType type = FlowType::unknown;
    std::uint64_t export_ns = 0;  // exporter's clock when it sent the packet
    std::uint32_t uptime_ms = 0;  // v5/v9 sysUptime
    bool has_uptime = false;
    std::uint32_t sequence = 0;
    std::uint32_t domain = 0;
    std::uint64_t received_ns = 0;

    // sysUptime-relative ms (v5, v9 FIRST/LAST_SWITCHED) to absolute ns. The uptime wraps after ~49.7 days;
    // the signed 32-bit difference keeps a time just before the wrap (or just after the header) right.
    std::uint64_t uptime_to_ns(std::uint32_t t_ms) const noexcept {
        const auto behind_ms = static_cast<std::int64_t>(static_cast<std::int32_t>(uptime_ms - t_ms));
        return static_cast<std::uint64_t>(static_cast<std::int64_t>(export_ns) - behind_ms * 1'000'000);
    }
};

// Rates above 1 in 2^32 (sFlow's own limit) are hostile or broken: scaling by them would overflow counters.
inline constexpr std::uint64_t kMaxSamplingRate = 0xffffffffull;
inline constexpr std::uint64_t kImplausibleRate = kMaxSamplingRate + 1;

using StreamHook = boost::intrusive::list_member_hook<boost::intrusive::link_mode<boost::intrusive::normal_link>>;
struct StreamAddressList;  // stream_table.hpp

struct StreamState {
    StreamState(const StreamKey& k, SequenceTracker tracker) : key(k), sequence(tracker), sequence_inclusive(tracker) {}
    StreamState(const StreamState&) = delete;
    StreamState& operator=(const StreamState&) = delete;

    // Standing in the stream table (stream_table.hpp): which streams make room for new ones. A stream is on
    // probation until it has decoded records in kProvenDatagrams datagrams; configured exporters are pinned.
    enum class Standing : std::uint8_t { probation, proven, pinned };
    static constexpr std::uint32_t kProvenDatagrams = 4;
    StreamKey key;
    Standing standing = Standing::probation;
    std::uint32_t datagrams_with_records = 0;
    StreamHook age_hook;                        // the probation or proven list, least recently active first
    StreamHook address_hook;                    // the streams of the same exporter address, least recently active first
    StreamAddressList* address_list = nullptr;  // that list: found once, not per datagram

    static constexpr std::size_t kMaxSamplers = 1024;

    ExporterStats stats;
    SequenceTracker sequence;
    // IPFIX only: softflowd numbers a message by the flow records sent *including* its own (options
    // records not counted), against RFC 7011's "records sent before this message". Both readings are
    // tracked; the one the exporter follows has (almost) no anomalies and is the one reported.
    SequenceTracker sequence_inclusive;

    // Once one reading has run clean over kNumberingEvidence messages while the other kept tripping, the
    // loser is no longer fed: it would take the anomaly path on every message of that exporter.
    enum class Numbering : std::uint8_t { undecided, rfc, inclusive };
    static constexpr std::uint64_t kNumberingEvidence = 64;
    Numbering numbering = Numbering::undecided;
    std::uint64_t numbered_messages = 0;

    static std::uint64_t anomalies(const SequenceCounters& c) noexcept { return c.lost + c.reordered + c.duplicate; }

    void decide_numbering() noexcept {
        if (numbering != Numbering::undecided || ++numbered_messages < kNumberingEvidence) return;
        const auto rfc = anomalies(sequence.counters());
        const auto inclusive = anomalies(sequence_inclusive.counters());
        if (rfc == 0 && inclusive >= kNumberingEvidence / 2)
            numbering = Numbering::rfc;
        else if (inclusive == 0 && rfc >= kNumberingEvidence / 2)
            numbering = Numbering::inclusive;
    }

    const SequenceCounters& sequence_counters() const noexcept {
        const auto& rfc = sequence.counters();
        const auto& inclusive = sequence_inclusive.counters();
        if (numbering == Numbering::rfc) return rfc;
        if (numbering == Numbering::inclusive) return inclusive;
        return sequence_inclusive.started() && anomalies(inclusive) < anomalies(rfc) ? inclusive : rfc;
    }
    std::uint64_t override_rate = 0;  // from config; wins over everything the exporter says
    std::uint64_t default_rate = 0;   // from options data without a sampler id
    boost::unordered_flat_map<std::uint64_t, std::uint64_t> sampler_rates;  // sampler/selector id -> rate
    std::uint64_t system_init_ms = 0;  // IPFIX systemInitTimeMilliseconds, for sysUpTime-relative times
    bool has_system_init = false;
    std::uint32_t max_uptime_ms = 0;
    bool uptime_seen = false;
    // Templates live with their stream: a data set needs one small lookup by template id once the
    // stream is found, instead of hashing the exporter's address again.
    // Held by pointer: most streams have a few templates, and a flat map's free slots would each cost a
    // whole template.
    boost::unordered_flat_map<std::uint16_t, std::unique_ptr<StoredTemplate>> templates;

    std::uint64_t rate_for_sampler(std::uint64_t id) const {
        if (auto it = sampler_rates.find(id); it != sampler_rates.end()) return it->second;
        return default_rate;
    }
};

}  // namespace flowguard::collector
