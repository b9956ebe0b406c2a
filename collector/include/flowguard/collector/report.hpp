#pragma once
// The collector's part of the stop summary and of the Prometheus metrics, generated from its counter tables
// (exporter_stats.hpp, flow_decoder.hpp, udp_receiver.hpp, span_meter.hpp, interface_counters.hpp): the
// command wiring passes the sources it made, this file merges and names what they published.
#include <flowguard/collector/capture_receiver.hpp>
#include <flowguard/collector/flow_decoder.hpp>
#include <flowguard/collector/pcap_datagrams.hpp>
#include <flowguard/collector/udp_receiver.hpp>
#include <flowguard/core/counters.hpp>
#include <flowguard/core/metric_labels.hpp>

#include <boost/json/object.hpp>

#include <span>
#include <vector>

namespace flowguard::collector {

// Totals over every decoder (one per receive thread; `templates` counts distinct ones), one entry per exporter
// stream that saw a packet (`exporters`; beyond kMaxSummaryStreams those that decoded the most, the rest
// counted in `exporters_omitted`), the sFlow interface counters (`interfaces`, the first 100).
inline constexpr std::size_t kMaxSummaryStreams = 1000;
void add_decoder_summary(boost::json::object& summary, std::span<const FlowDecoder* const> decoders);
// kernel_drops, truncated_datagrams and receive_errors over the receive threads (zeros without any).
void add_receiver_summary(boost::json::object& summary, std::span<const UdpReceiver* const> receivers);
// `decode`'s `capture` object.
boost::json::object capture_summary(const CaptureStats& stats, std::uint64_t skipped_by_port,
                                    std::uint64_t damaged_files);
// The span-port capture threads' `meter` object (collect/run), over all of them as last published.
boost::json::object live_meter_summary(std::span<const CaptureReceiver* const> captures);

// Per exporter stream ({exporter, flow_protocol}, merged over receive threads), sFlow interfaces, pipeline
// totals of the receive threads, and the span-port meter's counters.
void write_collector_metrics(MetricSink& sink, std::span<const UdpReceiver* const> receivers,
                             std::span<const CaptureReceiver* const> captures, const std::string& interface,
                             ExporterLabels& labels);
void append_collector_metric_specs(std::vector<MetricSpec>& catalog);

}  // namespace flowguard::collector
