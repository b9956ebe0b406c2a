#include <flowguard/collector/report.hpp>
#include <flowguard/collector/template_state.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace flowguard::collector {
namespace {

// sFlow interface counters, newest first per interface; the list is capped so that a summary stays one
// readable line (metrics carry every interface).
constexpr std::size_t kSummaryInterfaces = 100;

boost::json::array interface_summary(std::span<const FlowDecoder* const> decoders) {
    boost::json::array out;
    for (const auto* decoder : decoders)
        decoder->for_each_interface([&](const InterfaceKey& key, const InterfaceCounters& c) {
            if (out.size() >= kSummaryInterfaces) return;
            boost::json::object entry{{"agent", key.agent.to_string()},
                                      {"sub_agent", key.sub_agent},
                                      {"if_index", key.if_index},
                                      {"oper_up", c.oper_up}};
            add_to_summary(entry, c, kInterfaceSpeed);
            add_to_summary(entry, c, kInterfaceCounters);
            out.push_back(std::move(entry));
        });
    return out;
}

boost::json::object stream_summary(const StreamKey& key, const ExporterStats& s) {
    boost::json::object e{{"exporter", key.exporter.to_string()},
                          {"port", key.port},
                          {"version", key.version},
                          {"protocol", stream_protocol_name(key.version)},
                          {"observation_domain_id", key.domain}};
    add_to_summary(e, s, kExporterStats);
    if (key.version == kSflowStreamVersion) add_to_summary(e, s, kSflowStreamStats);
    return e;
}

using StreamLabels = std::pair<std::string, std::string>;     // exporter, flow_protocol
using InterfaceLabels = std::pair<std::string, std::string>;  // exporter, if_index

// Several sub-agents (or "other" interfaces) under one label: counters add up, the speed is the largest.
void add_interface(InterfaceCounters& into, const InterfaceCounters& c) {
    merge_counters(into, c, kInterfaceSpeed);
    merge_counters(into, c, kInterfaceCounters);
    into.oper_up = into.oper_up || c.oper_up;
}

void write_streams(MetricSink& sink, std::span<const UdpReceiver* const> receivers, ExporterLabels& labels) {
    std::map<StreamLabels, ExporterStats> streams;
    std::map<InterfaceLabels, InterfaceCounters> interfaces;
    DecoderTotals totals;
    RejectionCounts rejections{};
    ReceiveCounters counters;
    for (const auto* receiver : receivers) {
        const auto snap = receiver->published();
        totals += snap.decoder.totals;
        for (std::size_t i = 0; i < rejections.size(); ++i)
            rejections[i] = saturating_add(rejections[i], snap.decoder.rejections[i]);
        merge_counters(counters, snap.counters, kReceiveCounters);
        for (const auto& [key, s] : snap.decoder.streams)
            streams[{labels.exporter(key.exporter), stream_protocol_name(key.version)}] += s;
        for (const auto& [key, c] : snap.decoder.interfaces)
            add_interface(interfaces[{labels.exporter(key.agent), labels.interface(key.agent, key.if_index)}], c);
    }
    for (const auto& [l, s] : streams) write_metrics(sink, s, kExporterStats, {l.first, l.second});
    for (const auto& [l, c] : interfaces) {
        write_metrics(sink, c, kInterfaceSpeed, {l.first, l.second});
        write_metrics(sink, c, kInterfaceCounters, {l.first, l.second});
        sink.add("flowguard_interface_up", {l.first, l.second}, c.oper_up ? 1 : 0);
    }
    write_metrics(sink, totals, kDecoderTotals);
    write_metrics(sink, counters, kReceiveCounters);
    for (std::size_t i = 0; i < rejections.size(); ++i)
        sink.add("flowguard_decode_rejections_total", {kRejectionNames[i]}, static_cast<double>(rejections[i]));
}

}  // namespace

void add_decoder_summary(boost::json::object& summary, std::span<const FlowDecoder* const> decoders) {
    DecoderTotals t;
    for (const auto* d : decoders) t += d->totals();
    t.templates = 0;  // distinct templates, not one per receive thread that holds them
    for_each_distinct_template({decoders.begin(), decoders.end()}, [&](const TemplateSnapshot&) { ++t.templates; });
    add_to_summary(summary, t, kDecoderTotals);
    RejectionCounts rejections{};
    for (const auto* d : decoders) {
        const auto r = d->rejections();
        for (std::size_t i = 0; i < r.size(); ++i) rejections[i] = saturating_add(rejections[i], r[i]);
    }
    boost::json::object by_reason;
    for (std::size_t i = 0; i < rejections.size(); ++i) by_reason[kRejectionNames[i]] = rejections[i];
    summary["rejections"] = std::move(by_reason);
    std::vector<std::pair<StreamKey, ExporterStats>> streams;
    for (const auto* decoder : decoders)
        decoder->for_each_stream([&](const StreamKey& key, const ExporterStats& s) {
            if (s.packets != 0) streams.emplace_back(key, s);  // restored templates only: left out
        });
    // A flood of spoofed sources must not make the summary a line of tens of MB: the streams that decoded the
    // most are listed, the rest counted.
    std::size_t omitted = 0;
    if (streams.size() > kMaxSummaryStreams) {
        std::stable_sort(streams.begin(), streams.end(), [](const auto& a, const auto& b) {
            return std::tie(a.second.records, a.second.packets) > std::tie(b.second.records, b.second.packets);
        });
        omitted = streams.size() - kMaxSummaryStreams;
        streams.resize(kMaxSummaryStreams);
    }
    boost::json::array exporters;
    for (const auto& [key, s] : streams) exporters.push_back(stream_summary(key, s));
    summary["exporters"] = std::move(exporters);
    summary["exporters_omitted"] = omitted;
    summary["interfaces"] = interface_summary(decoders);
}

void add_receiver_summary(boost::json::object& summary, std::span<const UdpReceiver* const> receivers) {
    ReceiveCounters total;
    for (const auto* r : receivers) merge_counters(total, r->published().counters, kReceiveCounters);
    add_to_summary(summary, total, kReceiveCounters);
}

boost::json::object capture_summary(const CaptureStats& stats, std::uint64_t skipped_by_port,
                                    std::uint64_t damaged_files) {
    boost::json::object c{{"skipped_by_port", skipped_by_port}, {"damaged_files", damaged_files}};
    add_to_summary(c, stats, kCaptureStats);
    return c;
}

boost::json::object live_meter_summary(std::span<const CaptureReceiver* const> captures) {
    CaptureSnapshot total;
    for (const auto* k : captures) {
        const auto snap = k->published();
        total.meter += snap.meter;
        total.drops += snap.drops;
    }
    auto summary = span_meter_summary(total.meter, total.drops);
    if (!captures.empty()) summary["interface"] = captures.front()->interface();
    summary["capture_threads"] = captures.size();
    return summary;
}

void write_collector_metrics(MetricSink& sink, std::span<const UdpReceiver* const> receivers,
                             std::span<const CaptureReceiver* const> captures, const std::string& interface,
                             ExporterLabels& labels) {
    write_streams(sink, receivers, labels);
    std::uint64_t dns_messages = 0;
    for (const auto* r : receivers) dns_messages += r->published().counters.dns_events;
    if (!captures.empty()) {
        CaptureSnapshot t;
        for (const auto* k : captures) {
            const auto snap = k->published();
            t.meter += snap.meter;
            t.drops += snap.drops;
            t.active_flows += snap.active_flows;
        }
        sink.add("flowguard_capture_packets_total", {interface}, static_cast<double>(t.drops.received));
        sink.add("flowguard_capture_drops_total", {interface},
                 static_cast<double>(t.drops.dropped + t.drops.interface_dropped));
        sink.add("flowguard_meter_flows", {}, static_cast<double>(t.active_flows));
        write_metrics(sink, t.meter.flows, kMeterStats);
        sink.add("flowguard_meter_malformed_total", {}, static_cast<double>(t.meter.truncated + t.meter.malformed));
        dns_messages += t.meter.dns_messages;
    }
    sink.add("flowguard_dns_messages_total", {}, static_cast<double>(dns_messages));
}

void append_collector_metric_specs(std::vector<MetricSpec>& catalog) {
    append_metric_specs(catalog, kExporterStats, {"exporter", "flow_protocol"});
    append_metric_specs(catalog, kDecoderTotals);
    append_metric_specs(catalog, kReceiveCounters);
    append_metric_specs(catalog, kInterfaceCounters, {"exporter", "if_index", "direction"});
    append_metric_specs(catalog, kInterfaceSpeed, {"exporter", "if_index"});
    catalog.push_back({"flowguard_decode_rejections_total",
                       MetricType::counter,
                       "Input refused as malformed, by reason (short_datagram, unknown_version, set_length, "
                       "template_record, ...; docs/COLLECTOR.md \"Bounds\").",
                       {"reason"}});
    catalog.push_back({"flowguard_listener_foreign_sockets",
                       MetricType::gauge,
                       "Sockets of other programs on a listening port (a SO_REUSEPORT group member that takes part "
                       "of the exporters; should be 0).",
                       {}});
    catalog.push_back({"flowguard_interface_up",
                       MetricType::gauge,
                       "1 when the interface is operationally up (sFlow ifOperStatus).",
                       {"exporter", "if_index"}});
    catalog.push_back({"flowguard_capture_packets_total",
                       MetricType::counter,
                       "Packets the capture delivered (pcap_stats).",
                       {"interface"}});
    catalog.push_back({"flowguard_capture_drops_total",
                       MetricType::counter,
                       "Packets the kernel or driver dropped before capture (pcap_stats).",
                       {"interface"}});
    catalog.push_back({"flowguard_meter_flows", MetricType::gauge, "Flows in the meter's flow tables.", {}});
    append_metric_specs(catalog, kMeterStats);
    catalog.push_back({"flowguard_meter_malformed_total",
                       MetricType::counter,
                       "Captured packets truncated or malformed below layer 4.",
                       {}});
    catalog.push_back({"flowguard_dns_messages_total",
                       MetricType::counter,
                       "DNS messages seen by the meter and in sFlow samples.",
                       {}});
}

}  // namespace flowguard::collector
