#pragma once
#include <flowguard/collector/sequence_tracker.hpp>

#include <cstdint>

namespace flowguard::collector {

// Counters for one exporter stream. Written by the one thread that decodes that exporter.
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
    SequenceCounters sequence;  // filled from the stream's SequenceTracker

    // One exporter seen by several decoders (receive threads), added up; the newest datagram time wins.
    ExporterStats& operator+=(const ExporterStats& o) noexcept;
};

}  // namespace flowguard::collector
