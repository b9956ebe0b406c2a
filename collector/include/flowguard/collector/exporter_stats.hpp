#pragma once
// Counters of one exporter stream, declared once (core/counters.hpp): the summary's `exporters` entries, the
// per-exporter metrics and the merge of one exporter seen by several receive threads all come from the tables.
#include <flowguard/collector/sequence_tracker.hpp>
#include <flowguard/core/counters.hpp>

#include <cstdint>

namespace flowguard::collector {

// Written by the one thread that decodes that exporter.
struct ExporterStats {
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;               // UDP payload bytes
    std::uint64_t last_packet_ns = 0;      // receive time of the newest datagram
    std::uint64_t records = 0;             // flow records decoded (sFlow: flow samples)
    std::uint64_t counter_samples = 0;     // sFlow counter samples
    std::uint64_t samples_without_ip = 0;  // sFlow flow samples of non-IP frames (ARP, LLDP, ...): no record
    std::uint64_t skipped = 0;             // sFlow samples/records of formats flowguard does not read
    std::uint64_t options_records = 0;     // options data records decoded (sampling, init time, ...)
    std::uint64_t templates = 0;           // template records received (incl. refreshes)
    std::uint64_t template_changes = 0;    // a template id redefined with other fields
    std::uint64_t template_withdrawals = 0;
    std::uint64_t template_rejects = 0;       // hostile or over-limit templates refused
    std::uint64_t decode_errors = 0;          // malformed headers, sets or records
    std::uint64_t pending_sets = 0;           // data sets held until their template arrived
    std::uint64_t pending_decoded = 0;        // records decoded late, once their template came
    std::uint64_t unknown_template_sets = 0;  // data sets never decoded: their template never came
    std::uint64_t unknown_template_bytes = 0;
    std::uint64_t sampling_rejects = 0;  // sampling rates above 2^32-1 announced (ignored)
    std::uint64_t sampler_rejects = 0;   // options records of sampler ids beyond kMaxSamplers (rates not kept)
    SequenceCounters sequence;           // filled from the stream's SequenceTracker

    // One exporter seen by several decoders (receive threads), added up; the newest datagram time wins.
    ExporterStats& operator+=(const ExporterStats& o) noexcept;
};

// Every stream; metrics are labelled {exporter, flow_protocol}.
inline constexpr CounterTable<ExporterStats, 20> kExporterStats{{
    {"packets", counter_ref<&ExporterStats::packets>, Merge::sum, "flowguard_received_packets_total",
     MetricType::counter, "Export datagrams received and decoded."},
    {"bytes", counter_ref<&ExporterStats::bytes>, Merge::sum, "flowguard_received_bytes_total", MetricType::counter,
     "UDP payload bytes of export datagrams."},
    {"records", counter_ref<&ExporterStats::records>, Merge::sum, "flowguard_records_total", MetricType::counter,
     "Flow records decoded (sFlow: flow samples)."},
    {"options_records", counter_ref<&ExporterStats::options_records>},
    {"templates", counter_ref<&ExporterStats::templates>},
    {"template_changes", counter_ref<&ExporterStats::template_changes>},
    {"template_withdrawals", counter_ref<&ExporterStats::template_withdrawals>},
    {"template_rejects", counter_ref<&ExporterStats::template_rejects>},
    {"decode_errors", counter_ref<&ExporterStats::decode_errors>, Merge::sum, "flowguard_decode_errors_total",
     MetricType::counter, "Malformed headers, sets, records or samples."},
    {"pending_sets", counter_ref<&ExporterStats::pending_sets>},
    {"pending_decoded", counter_ref<&ExporterStats::pending_decoded>},
    {"unknown_template_sets", counter_ref<&ExporterStats::unknown_template_sets>, Merge::sum,
     "flowguard_unknown_template_total", MetricType::counter,
     "Data sets never decoded because their template never came."},
    {"unknown_template_bytes", counter_ref<&ExporterStats::unknown_template_bytes>},
    {"sampling_rejects", counter_ref<&ExporterStats::sampling_rejects>, Merge::sum,
     "flowguard_sampling_rate_rejects_total", MetricType::counter,
     "Sampling rates above 2^32-1 announced by the exporter, ignored (records keep the previous rate)."},
    {"sampler_rejects", counter_ref<&ExporterStats::sampler_rejects>},
    {"sequence_lost", counter_ref<&ExporterStats::sequence, &SequenceCounters::lost>, Merge::sum,
     "flowguard_sequence_lost_total", MetricType::counter,
     "Units (v5/IPFIX records, v9/sFlow datagrams) missing from the exporter's sequence."},
    {"sequence_reordered", counter_ref<&ExporterStats::sequence, &SequenceCounters::reordered>, Merge::sum,
     "flowguard_sequence_reordered_total", MetricType::counter, "Export datagrams that arrived after a later one."},
    {"sequence_duplicate", counter_ref<&ExporterStats::sequence, &SequenceCounters::duplicate>, Merge::sum,
     "flowguard_sequence_duplicate_total", MetricType::counter, "Export datagrams seen twice."},
    {"restarts", counter_ref<&ExporterStats::sequence, &SequenceCounters::restarts>},
    {"", counter_ref<&ExporterStats::last_packet_ns>, Merge::max, "flowguard_exporter_last_seen_timestamp_seconds",
     MetricType::gauge, "Unix time of the exporter's last datagram.", 1e-9},
}};

// Counters only sFlow streams have: their summary entries carry these too.
inline constexpr CounterTable<ExporterStats, 3> kSflowStreamStats{{
    {"counter_samples", counter_ref<&ExporterStats::counter_samples>},
    {"samples_without_ip", counter_ref<&ExporterStats::samples_without_ip>},
    {"skipped", counter_ref<&ExporterStats::skipped>},
}};

// Every counter is in one of the two tables (a member added without its line fails here).
static_assert(sizeof(ExporterStats) == sizeof(std::uint64_t) * (kExporterStats.size() + kSflowStreamStats.size()));

inline ExporterStats& ExporterStats::operator+=(const ExporterStats& o) noexcept {
    merge_counters(*this, o, kExporterStats);
    merge_counters(*this, o, kSflowStreamStats);
    return *this;
}

}  // namespace flowguard::collector
