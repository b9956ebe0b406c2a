#pragma once
// The run summary printed as one JSON object on stderr's last line: totals that scripts read
// (packets, records, decode_errors, unknown_template, sequence_lost, ...), one entry per exporter stream and
// the sFlow interface counters (first 100 interfaces).
#include <flowguard/collector/flow_decoder.hpp>
#include <flowguard/collector/pcap_datagrams.hpp>
#include <flowguard/collector/span_meter.hpp>

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
// What a span-port meter did (`meter`, and the `meter` object of `collect`/`run`): frames, packets, bytes,
// parse problems, flows created, records (flows ended and reported), evictions, DNS, pcap_stats drops.
boost::json::object span_meter_summary(const collector::SpanMeterStats& stats, const collector::CaptureDrops& drops);
void print_summary(const boost::json::object& summary);  // one line on stderr

}  // namespace flowguard::app
