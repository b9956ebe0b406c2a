#pragma once
// Decodes NetFlow v5, NetFlow v9 (RFC 3954), IPFIX (RFC 7011) and sFlow v5 datagrams into FlowRecords.
// One FlowDecoder owns the template and sequence state of the exporters it sees, so it is used by one
// thread at a time; the pipeline keeps each exporter on one decoder. Memory is bounded by the limits
// in CollectorConfig: templates, exporter streams and data pending its template.
#include <flowguard/collector/config.hpp>
#include <flowguard/collector/decode_plan.hpp>
#include <flowguard/collector/export_packet.hpp>
#include <flowguard/collector/exporter_stats.hpp>
#include <flowguard/collector/interface_counters.hpp>
#include <flowguard/collector/packet_parser.hpp>
#include <flowguard/core/counters.hpp>
#include <flowguard/core/flow_record.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

namespace flowguard::collector {

// StreamKey::version of sFlow v5 agents: not 5, so an sFlow agent never shares state with a NetFlow v5
// exporter on the same address and port.
inline constexpr std::uint16_t kSflowStreamVersion = 1005;

// Identifies one exporter stream: (exporter address, port, NetFlow version, observation domain / source id).
// sFlow: (agent address from the datagram, UDP source port, kSflowStreamVersion, sub-agent id).
struct StreamKey {
    IpAddress exporter;
    std::uint16_t port = 0;
    std::uint16_t version = 0;
    std::uint32_t domain = 0;
    friend bool operator==(const StreamKey&, const StreamKey&) = default;
};

// A template as the exporter defined it, for saving decoder state across restarts.
struct TemplateSnapshot {
    StreamKey stream;
    std::uint16_t id = 0;
    bool options = false;
    std::uint16_t scope_field_count = 0;
    std::vector<TemplateField> fields;
    bool proven = false;  // its stream had decoded records in a few datagrams (or is pinned): restored past probation
};

struct DecoderTotals {
    std::uint64_t packets = 0;
    std::uint64_t records = 0;
    std::uint64_t decode_errors = 0;     // incl. packets of unknown version and too-short packets
    std::uint64_t unknown_template = 0;  // data sets that never found their template
    std::uint64_t sequence_lost = 0;
    std::uint64_t sequence_reordered = 0;
    std::uint64_t sequence_duplicate = 0;
    std::uint64_t templates = 0;                  // templates held now
    std::uint64_t stream_limit_drops = 0;         // packets of new streams when every held stream is pinned
    std::uint64_t interface_counter_rejects = 0;  // sFlow interfaces beyond collector.max_interfaces
    std::uint64_t template_bytes = 0;             // what the held templates cost (collector.templates.max_bytes)
    std::uint64_t streams = 0;                    // exporter streams held now
    std::uint64_t streams_evicted = 0;            // streams dropped to make room (their counts are kept)
    std::uint64_t pending_bytes = 0;              // what data held for its template costs now

    // Totals of several decoders (receive threads). `templates` adds up too: a template that every thread
    // holds counts once per thread (the summary counts distinct ones instead).
    DecoderTotals& operator+=(const DecoderTotals& o) noexcept;
};

// The summary's top-level decoder totals; unlabelled metrics.
inline constexpr CounterTable<DecoderTotals, 14> kDecoderTotals{{
    {"packets", counter_ref<&DecoderTotals::packets>},
    {"records", counter_ref<&DecoderTotals::records>},
    {"decode_errors", counter_ref<&DecoderTotals::decode_errors>},
    {"unknown_template", counter_ref<&DecoderTotals::unknown_template>},
    {"sequence_lost", counter_ref<&DecoderTotals::sequence_lost>},
    {"sequence_reordered", counter_ref<&DecoderTotals::sequence_reordered>},
    {"sequence_duplicate", counter_ref<&DecoderTotals::sequence_duplicate>},
    {"templates", counter_ref<&DecoderTotals::templates>, Merge::sum, "flowguard_templates", MetricType::gauge,
     "Templates held (all exporters)."},
    {"stream_limit_drops", counter_ref<&DecoderTotals::stream_limit_drops>, Merge::sum,
     "flowguard_stream_limit_drops_total", MetricType::counter,
     "Datagrams of new exporter streams refused because every held stream is pinned."},
    {"interface_counter_rejects", counter_ref<&DecoderTotals::interface_counter_rejects>},
    {"template_bytes", counter_ref<&DecoderTotals::template_bytes>, Merge::sum, "flowguard_template_bytes",
     MetricType::gauge, "Memory the held templates cost, bytes (collector.templates.max_bytes)."},
    {"streams", counter_ref<&DecoderTotals::streams>, Merge::sum, "flowguard_exporter_streams", MetricType::gauge,
     "Exporter streams held (collector.max_streams)."},
    {"streams_evicted", counter_ref<&DecoderTotals::streams_evicted>, Merge::sum,
     "flowguard_exporter_streams_evicted_total", MetricType::counter,
     "Exporter streams dropped to make room for new streams or templates, least valuable first."},
    {"pending_bytes", counter_ref<&DecoderTotals::pending_bytes>, Merge::sum, "flowguard_pending_data_bytes",
     MetricType::gauge,
     "Memory the data sets held for their templates cost, bytes (collector.pending_data.max_bytes)."},
}};
static_assert(sizeof(DecoderTotals) == sizeof(std::uint64_t) * kDecoderTotals.size());

inline DecoderTotals& DecoderTotals::operator+=(const DecoderTotals& o) noexcept {
    merge_counters(*this, o, kDecoderTotals);
    return *this;
}

// Why input was refused: every decode error and every data set or options record dropped as malformed has
// one reason (decode_errors sums the malformed ones; the summary's `rejections` and
// flowguard_decode_rejections_total{reason} give them apart).
enum class Rejection : std::uint8_t {
    short_datagram,   // shorter than any header (no exporter stream to count it under)
    unknown_version,  // not NetFlow v5/v9, IPFIX or sFlow v5 (no stream either)
    v5_count,         // a v5 record count of 0, above 30, or past the datagram
    message_length,   // an IPFIX message length beyond the datagram
    set_length,       // a set length below 4 or past its message
    template_record,  // a template record cut short, with an id below 256, or with no fields
    options_scope,    // an options template whose scope does not fit its fields
    variable_field,   // a variable-length field running past its set
    sflow,            // an sFlow sample or record running past its container
    short_data_set,   // a data set shorter than one record of its template (nothing decoded)
    sampler_limit,    // sampler ids beyond 1,024 in one stream: their rates are not kept
    kCount
};
inline constexpr std::array<const char*, static_cast<std::size_t>(Rejection::kCount)> kRejectionNames{
    "short_datagram", "unknown_version", "v5_count", "message_length", "set_length",   "template_record",
    "options_scope",  "variable_field",  "sflow",    "short_data_set", "sampler_limit"};
using RejectionCounts = std::array<std::uint64_t, static_cast<std::size_t>(Rejection::kCount)>;

// "netflow_v5", "netflow_v9", "ipfix" or "sflow5" for a StreamKey::version.
const char* stream_protocol_name(std::uint16_t version) noexcept;

// Called for every sFlow packet sample whose raw header parsed (passive DNS reads port-53 samples here).
using SampledPacketHandler = std::function<void(const PacketView& packet, const FlowRecord& record)>;

// True when a UDP payload is one whole NetFlow v5/v9 or IPFIX export message (its header agrees with its
// length; v9/IPFIX: its sets, of known kinds, tile the rest exactly) or an sFlow v5 datagram: `analyze` uses
// it to tell flow exports from ordinary traffic in a capture, packet by packet (DNS on port 53 first).
bool is_flow_export(std::span<const std::uint8_t> payload) noexcept;

// A copy of a decoder's counters, for readers on other threads (the metrics endpoint).
struct DecoderSnapshot {
    DecoderTotals totals;
    RejectionCounts rejections{};
    std::vector<std::pair<StreamKey, ExporterStats>> streams;
    std::vector<std::pair<InterfaceKey, InterfaceCounters>> interfaces;
};

class FlowDecoder {
public:
    explicit FlowDecoder(const CollectorConfig& config);
    ~FlowDecoder();
    FlowDecoder(const FlowDecoder&) = delete;
    FlowDecoder& operator=(const FlowDecoder&) = delete;

    // Appends the packet's records to `out` (which keeps its capacity between calls). Data waiting for a
    // template that this packet brings is decoded and appended too. Data pending longer than the
    // configured age is counted as unknown_template and discarded.
    void decode(const ExportPacket& packet, std::vector<FlowRecord>& out);

    // Counts as unknown_template, and discards, data pending longer than the configured age at `now_ns`.
    // decode() does this itself; a live collector also calls it when no packets arrive.
    void expire(std::uint64_t now_ns);

    // End of input: everything still pending is counted as unknown_template.
    void finish();

    // Templates held now, and a way to put them back (after a restart, before the exporter resends them).
    // restore() goes through the same validation and limits as a template received on the wire.
    void for_each_template(const std::function<void(const TemplateSnapshot&)>& visit) const;
    bool restore(const TemplateSnapshot& snapshot);

    DecoderTotals totals() const;
    RejectionCounts rejections() const;
    void for_each_stream(const std::function<void(const StreamKey&, const ExporterStats&)>& visit) const;
    std::size_t template_count() const;

    // sFlow generic interface counters, newest per (agent, sub-agent, ifIndex).
    void for_each_interface(const std::function<void(const InterfaceKey&, const InterfaceCounters&)>& visit) const;
    std::size_t interface_count() const;

    void on_sampled_packet(SampledPacketHandler handler);

    DecoderSnapshot snapshot() const;

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace flowguard::collector
