#include "summary.hpp"

#include "template_state.hpp"

#include <cstdio>

namespace flowguard::app {

namespace {

// sFlow interface counters, newest first per interface; the list is capped so that a summary stays one
// readable line (metrics carry every interface).
constexpr std::size_t kSummaryInterfaces = 100;

boost::json::array interface_summary(const std::vector<const collector::FlowDecoder*>& decoders) {
    boost::json::array out;
    for (const auto* decoder : decoders)
        decoder->for_each_interface([&](const collector::InterfaceKey& key, const collector::InterfaceCounters& c) {
            if (out.size() >= kSummaryInterfaces) return;
            out.push_back(boost::json::object{{"agent", key.agent.to_string()},
                                              {"sub_agent", key.sub_agent},
                                              {"if_index", key.if_index},
                                              {"speed_bps", c.speed_bps},
                                              {"oper_up", c.oper_up},
                                              {"in_octets", c.in_octets},
                                              {"in_packets", c.in_packets},
                                              {"in_errors", c.in_errors},
                                              {"in_discards", c.in_discards},
                                              {"out_octets", c.out_octets},
                                              {"out_packets", c.out_packets},
                                              {"out_errors", c.out_errors},
                                              {"out_discards", c.out_discards}});
        });
    return out;
}

}  // namespace

boost::json::object decoder_summary(const std::vector<const collector::FlowDecoder*>& decoders,
                                    const PipelineCounters& counters) {
    collector::DecoderTotals t;
    for (const auto* d : decoders) t += d->totals();
    t.templates = 0;  // distinct templates, not one per receive thread that holds them
    for_each_distinct_template(decoders, [&](const collector::TemplateSnapshot&) { ++t.templates; });
    boost::json::object o;
    o["packets"] = t.packets;
    o["records"] = t.records;
    o["records_written"] = counters.records_written;
    o["records_delivered"] = counters.records_delivered;
    o["decode_errors"] = t.decode_errors;
    o["unknown_template"] = t.unknown_template;
    o["templates"] = t.templates;
    o["sequence_lost"] = t.sequence_lost;
    o["sequence_reordered"] = t.sequence_reordered;
    o["sequence_duplicate"] = t.sequence_duplicate;
    o["stream_limit_drops"] = t.stream_limit_drops;
    o["kernel_drops"] = counters.kernel_drops;
    o["ring_drops"] = counters.ring_drops;
    o["truncated_datagrams"] = counters.truncated_datagrams;
    o["receive_errors"] = counters.receive_errors;
    boost::json::array exporters;
    for (const auto* decoder : decoders)
        decoder->for_each_stream([&](const collector::StreamKey& key, const collector::ExporterStats& s) {
            if (s.packets == 0) return;
            boost::json::object e;
            e["exporter"] = key.exporter.to_string();
            e["port"] = key.port;
            e["version"] = key.version;
            e["protocol"] = collector::stream_protocol_name(key.version);
            e["observation_domain_id"] = key.domain;
            e["packets"] = s.packets;
            e["bytes"] = s.bytes;
            e["records"] = s.records;
            e["options_records"] = s.options_records;
            e["templates"] = s.templates;
            e["template_changes"] = s.template_changes;
            e["template_withdrawals"] = s.template_withdrawals;
            e["template_rejects"] = s.template_rejects;
            e["decode_errors"] = s.decode_errors;
            e["pending_sets"] = s.pending_sets;
            e["pending_decoded"] = s.pending_decoded;
            e["unknown_template_sets"] = s.unknown_template_sets;
            e["unknown_template_bytes"] = s.unknown_template_bytes;
            e["sequence_lost"] = s.sequence.lost;
            e["sequence_reordered"] = s.sequence.reordered;
            e["sequence_duplicate"] = s.sequence.duplicate;
            e["restarts"] = s.sequence.restarts;
            if (key.version == collector::kSflowStreamVersion) {
                e["counter_samples"] = s.counter_samples;
                e["samples_without_ip"] = s.samples_without_ip;
                e["skipped"] = s.skipped;
            }
            exporters.push_back(std::move(e));
        });
    o["exporters"] = std::move(exporters);
    o["interfaces"] = interface_summary(decoders);
    o["interface_counter_rejects"] = t.interface_counter_rejects;
    return o;
}

boost::json::object capture_summary(const collector::CaptureStats& stats, std::uint64_t skipped_by_port) {
    boost::json::object c;
    c["frames"] = stats.frames;
    c["udp_datagrams"] = stats.udp_datagrams;
    c["skipped_by_port"] = skipped_by_port;
    c["other_frames"] = stats.other_frames;
    c["truncated"] = stats.truncated;
    c["fragments"] = stats.fragments;
    return c;
}

boost::json::object span_meter_summary(const collector::SpanMeterStats& s, const collector::CaptureDrops& drops) {
    return {{"frames", s.frames},
            {"packets", s.flows.packets},
            {"bytes", s.flows.bytes},
            {"not_ip", s.not_ip},
            {"truncated", s.truncated},
            {"malformed", s.malformed},
            {"flows_created", s.flows.flows_created},
            {"records", s.flows.flows_expired},
            {"evictions", s.flows.evictions},
            {"fragments_unmatched", s.flows.fragments_unmatched},
            {"dns_messages", s.dns_messages},
            {"dns_errors", s.dns_errors},
            {"capture_received", drops.received},
            {"capture_dropped", drops.dropped},
            {"capture_interface_dropped", drops.interface_dropped}};
}

void print_summary(const boost::json::object& summary) {
    const auto text = boost::json::serialize(summary);
    std::fprintf(stderr, "%s\n", text.c_str());
    std::fflush(stderr);
}

}  // namespace flowguard::app
