#pragma once
// The run summary printed as one JSON object on stderr's last line: totals that scripts read
// (packets, records, decode_errors, unknown_template, sequence_lost, ...), one entry per exporter stream and
// the sFlow interface counters (first 100 interfaces).
#include <flowguard/collector/flow_decoder.hpp>
#include <flowguard/collector/pcap_datagrams.hpp>

#include <boost/json.hpp>

#include <optional>
#include <vector>

namespace flowguard::app {

struct PipelineCounters {
    std::uint64_t kernel_drops = 0;  // datagrams the kernel dropped before we read them
    std::uint64_t ring_drops = 0;    // records dropped because a shard's channel was full
    std::uint64_t records_written = 0;
    std::uint64_t records_delivered = 0;    // records the shards received (= records - ring_drops)
    std::uint64_t truncated_datagrams = 0;  // longer than collector.max_datagram
    std::uint64_t receive_errors = 0;
    std::uint64_t dns_drops = 0;             // DNS events dropped because a shard's DNS channel was full
    std::uint64_t dns_events_delivered = 0;  // DNS events the shards received (meter and sFlow samples)
};

// Totals over every decoder (one per receive thread); exporter streams that saw no packet in a decoder
// (templates restored from the state file) are left out of the list.
boost::json::object decoder_summary(const std::vector<const collector::FlowDecoder*>& decoders,
                                    const PipelineCounters& counters);
boost::json::object capture_summary(const collector::CaptureStats& stats, std::uint64_t skipped_by_port);
void print_summary(const boost::json::object& summary);  // one line on stderr

}  // namespace flowguard::app
