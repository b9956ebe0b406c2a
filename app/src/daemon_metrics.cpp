#include "daemon_metrics.hpp"

#include <boost/container_hash/hash.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

#include <ctime>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#ifndef FLOWGUARD_VERSION
#define FLOWGUARD_VERSION "dev"
#endif

namespace flowguard::app {
namespace {

constexpr double kNs = 1e-9;

// Label values that may be named: the first `cap` seen keep their name for the life of the process (so a
// counter never moves between series), later ones are reported as "other". Spoofed exporters cannot
// grow the label set beyond the cap.
template <class Key>
class BoundedNames {
public:
    explicit BoundedNames(std::size_t cap) : cap_(cap) {}
    bool named(const Key& key) {
        if (names_.contains(key)) return true;
        if (names_.size() >= cap_) return false;
        names_.insert(key);
        return true;
    }

private:
    std::size_t cap_;
    boost::unordered_flat_set<Key, boost::hash<Key>> names_;
};

// Exporter-stream counters merged over receive threads, keyed by the labels they are published under.
using StreamLabels = std::pair<std::string, std::string>;  // exporter, flow_protocol

class DaemonMetrics {
public:
    DaemonMetrics(const Pipeline& pipeline, const Config& config, const exporters::ApplicationMap& applications)
        : pipeline_(pipeline),
          config_(config),
          applications_(applications),
          start_seconds_(static_cast<double>(std::time(nullptr))),
          exporters_(config.metrics.max_exporters),
          interfaces_(config.metrics.max_interfaces) {}

    void write(exporters::MetricWriter& w) {
        std::lock_guard lock(mutex_);  // civetweb may serve two scrapes at once; the label sets are shared
        w.add("flowguard_build_info", {FLOWGUARD_VERSION}, 1);
        w.add("flowguard_start_time_seconds", {}, start_seconds_);
        write_collector(w);
        const auto captures = pipeline_.capture_totals();
        write_meter(w, captures);
        w.add("flowguard_dns_messages_total", {},
              static_cast<double>(sflow_dns_messages() + captures.meter.dns_messages));
        write_shards(w);
    }

private:
    std::string exporter_label(const IpAddress& address) {
        // Records of the span-port meter have no exporter address: they are named after the interface.
        if (address.empty()) return config_.meter.interface.empty() ? "" : "span:" + config_.meter.interface;
        return exporters_.named(address) ? address.to_string() : "other";
    }

    std::string if_label(const IpAddress& exporter, std::uint32_t if_index) {
        return interfaces_.named({exporter, if_index}) ? std::to_string(if_index) : "other";
    }

    void write_collector(exporters::MetricWriter& w) {
        std::map<StreamLabels, collector::ExporterStats> streams;
        std::map<std::pair<std::string, std::string>, collector::InterfaceCounters> interfaces;  // sub-agents merged
        collector::DecoderTotals totals;
        for (std::size_t i = 0; i < pipeline_.receivers.size(); ++i) {
            const auto& receiver = *pipeline_.receivers[i];
            const auto snap = receiver.published_stats();
            totals += snap.totals;
            for (const auto& [key, s] : snap.streams)
                streams[{exporter_label(key.exporter), collector::stream_protocol_name(key.version)}] += s;
            for (const auto& [key, c] : snap.interfaces) {
                const auto exporter = exporter_label(key.agent);
                auto& m = interfaces[{exporter, if_label(key.agent, key.if_index)}];
                add_interface(m, c);
            }
            w.add("flowguard_ring_drops_total", {std::to_string(i)},
                  static_cast<double>(receiver.counters().ring_drops.load(std::memory_order_relaxed)));
            w.add("flowguard_dns_drops_total", {std::to_string(i)},
                  static_cast<double>(receiver.counters().dns_drops.load(std::memory_order_relaxed)));
        }
        for (const auto& [labels, s] : streams) {
            const std::initializer_list<std::string_view> l{labels.first, labels.second};
            w.add("flowguard_received_packets_total", l, static_cast<double>(s.packets));
            w.add("flowguard_received_bytes_total", l, static_cast<double>(s.bytes));
            w.add("flowguard_records_total", l, static_cast<double>(s.records));
            w.add("flowguard_decode_errors_total", l, static_cast<double>(s.decode_errors));
            w.add("flowguard_unknown_template_total", l, static_cast<double>(s.unknown_template_sets));
            w.add("flowguard_sequence_lost_total", l, static_cast<double>(s.sequence.lost));
            w.add("flowguard_sequence_reordered_total", l, static_cast<double>(s.sequence.reordered));
            w.add("flowguard_sequence_duplicate_total", l, static_cast<double>(s.sequence.duplicate));
            w.add("flowguard_exporter_last_seen_timestamp_seconds", l, static_cast<double>(s.last_packet_ns) * kNs);
        }
        for (const auto& [labels, c] : interfaces) {
            const auto& [exporter, if_index] = labels;
            w.add("flowguard_interface_octets_total", {exporter, if_index, "in"}, static_cast<double>(c.in_octets));
            w.add("flowguard_interface_octets_total", {exporter, if_index, "out"}, static_cast<double>(c.out_octets));
            w.add("flowguard_interface_packets_total", {exporter, if_index, "in"}, static_cast<double>(c.in_packets));
            w.add("flowguard_interface_packets_total", {exporter, if_index, "out"}, static_cast<double>(c.out_packets));
            w.add("flowguard_interface_errors_total", {exporter, if_index, "in"}, static_cast<double>(c.in_errors));
            w.add("flowguard_interface_errors_total", {exporter, if_index, "out"}, static_cast<double>(c.out_errors));
            w.add("flowguard_interface_discards_total", {exporter, if_index, "in"}, static_cast<double>(c.in_discards));
            w.add("flowguard_interface_discards_total", {exporter, if_index, "out"},
                  static_cast<double>(c.out_discards));
            w.add("flowguard_interface_speed_bytes", {exporter, if_index}, static_cast<double>(c.speed_bps) / 8);
            w.add("flowguard_interface_up", {exporter, if_index}, c.oper_up ? 1 : 0);
        }
        const auto counters = pipeline_.counters();
        w.add("flowguard_templates", {}, static_cast<double>(totals.templates));
        w.add("flowguard_kernel_drops_total", {}, static_cast<double>(counters.kernel_drops));
        w.add("flowguard_truncated_datagrams_total", {}, static_cast<double>(counters.truncated_datagrams));
        w.add("flowguard_stream_limit_drops_total", {}, static_cast<double>(totals.stream_limit_drops));
    }

    // DNS messages the receive threads found in sFlow packet samples.
    std::uint64_t sflow_dns_messages() const {
        std::uint64_t n = 0;
        for (const auto& r : pipeline_.receivers) n += r->counters().dns_events.load(std::memory_order_relaxed);
        return n;
    }

    // Span-port capture threads (`t`: their totals). Threads of one interface (PACKET_FANOUT) add up under its name.
    void write_meter(exporters::MetricWriter& w, const collector::CaptureSnapshot& t) {
        if (pipeline_.captures.empty()) return;
        const auto& interface = config_.meter.interface;
        for (std::size_t i = 0; i < pipeline_.captures.size(); ++i) {
            const auto& counters = pipeline_.captures[i]->counters();
            const auto label = "capture" + std::to_string(i);
            w.add("flowguard_ring_drops_total", {label},
                  static_cast<double>(counters.ring_drops.load(std::memory_order_relaxed)));
            w.add("flowguard_dns_drops_total", {label},
                  static_cast<double>(counters.dns_drops.load(std::memory_order_relaxed)));
        }
        w.add("flowguard_capture_packets_total", {interface}, static_cast<double>(t.drops.received));
        w.add("flowguard_capture_drops_total", {interface},
              static_cast<double>(t.drops.dropped + t.drops.interface_dropped));
        w.add("flowguard_meter_flows", {}, static_cast<double>(t.active_flows));
        w.add("flowguard_meter_records_total", {}, static_cast<double>(t.meter.flows.flows_expired));
        w.add("flowguard_meter_evictions_total", {}, static_cast<double>(t.meter.flows.evictions));
        w.add("flowguard_meter_malformed_total", {}, static_cast<double>(t.meter.truncated + t.meter.malformed));
    }

    // Several sub-agents or "other" interfaces under one label: counters add up, the speed is the largest.
    static void add_interface(collector::InterfaceCounters& into, const collector::InterfaceCounters& c) {
        into.in_octets += c.in_octets;
        into.out_octets += c.out_octets;
        into.in_packets += c.in_packets;
        into.out_packets += c.out_packets;
        into.in_errors += c.in_errors;
        into.out_errors += c.out_errors;
        into.in_discards += c.in_discards;
        into.out_discards += c.out_discards;
        into.speed_bps = std::max(into.speed_bps, c.speed_bps);
        into.oper_up = into.oper_up || c.oper_up;
    }

    void write_shards(exporters::MetricWriter& w) {
        exporters::TrafficSnapshot traffic;
        analyzer::AnalyzerStats analysis;
        std::map<std::pair<std::string, std::string>, std::uint64_t> alerts;
        for (std::size_t i = 0; i < pipeline_.shards.size(); ++i) {
            const auto snap = pipeline_.shards[i]->published();
            const auto shard = std::to_string(i);
            w.add("flowguard_queue_depth_batches", {shard}, static_cast<double>(snap.queued_batches));
            w.add("flowguard_shard_records_total", {shard}, static_cast<double>(snap.records));
            traffic.merge(snap.traffic, config_.metrics.top_k);
            analysis.flows += snap.analyzer.flows;
            analysis.dns_events += snap.analyzer.dns_events;
            analysis.pairs += snap.analyzer.pairs;
            analysis.pair_evictions += snap.analyzer.pair_evictions;
            for (const auto& [key, n] : snap.alerts) alerts[key] += n;
        }
        w.add("flowguard_analyzer_flows_total", {}, static_cast<double>(analysis.flows));
        w.add("flowguard_analyzer_dns_events_total", {}, static_cast<double>(analysis.dns_events));
        w.add("flowguard_analyzer_series", {}, static_cast<double>(analysis.pairs));
        w.add("flowguard_analyzer_series_evictions_total", {}, static_cast<double>(analysis.pair_evictions));
        for (const auto& [key, n] : alerts)
            w.add("flowguard_alerts_total", {key.first, key.second}, static_cast<double>(n));
        write_traffic(w, traffic);
    }

    void write_traffic(exporters::MetricWriter& w, const exporters::TrafficSnapshot& t) {
        std::map<std::tuple<std::string, std::string, std::string>, exporters::TrafficTotals> by_interface;
        for (const auto& [key, totals] : t.interfaces)
            by_interface[{exporter_label(key.exporter), if_label(key.exporter, key.if_index),
                          key.out ? "out" : "in"}] += totals;
        if (t.other_interfaces.flows != 0) by_interface[{"other", "other", "in"}] += t.other_interfaces;
        for (const auto& [labels, totals] : by_interface) {
            const auto& [exporter, if_index, direction] = labels;
            w.add("flowguard_traffic_bytes_total", {exporter, if_index, direction}, static_cast<double>(totals.bytes));
            w.add("flowguard_traffic_packets_total", {exporter, if_index, direction},
                  static_cast<double>(totals.packets));
            w.add("flowguard_traffic_flows_total", {exporter, if_index, direction}, static_cast<double>(totals.flows));
        }
        std::map<std::string_view, exporters::TrafficTotals> protocols;
        for (std::size_t p = 0; p < t.protocols.size(); ++p)
            if (t.protocols[p].flows != 0)
                protocols[exporters::protocol_label(static_cast<std::uint8_t>(p))] += t.protocols[p];
        for (const auto& [name, totals] : protocols) {
            w.add("flowguard_protocol_bytes_total", {name}, static_cast<double>(totals.bytes));
            w.add("flowguard_protocol_packets_total", {name}, static_cast<double>(totals.packets));
        }
        const auto& names = applications_.names();
        for (std::size_t a = 0; a < t.applications.size() && a < names.size(); ++a) {
            if (t.applications[a].flows == 0) continue;
            w.add("flowguard_application_bytes_total", {names[a]}, static_cast<double>(t.applications[a].bytes));
            w.add("flowguard_application_flows_total", {names[a]}, static_cast<double>(t.applications[a].flows));
        }
        for (std::size_t r = 0; r < t.talkers.size(); ++r)
            w.add("flowguard_top_talker_bytes", {std::to_string(r + 1), t.talkers[r].address.to_string()},
                  static_cast<double>(t.talkers[r].bytes));
        for (std::size_t r = 0; r < t.destinations.size(); ++r)
            w.add("flowguard_top_destination_bytes", {std::to_string(r + 1), t.destinations[r].address.to_string()},
                  static_cast<double>(t.destinations[r].bytes));
        for (std::size_t r = 0; r < t.conversations.size(); ++r)
            w.add("flowguard_top_conversation_bytes",
                  {std::to_string(r + 1), t.conversations[r].address.to_string(), t.conversations[r].peer.to_string()},
                  static_cast<double>(t.conversations[r].bytes));
    }

    struct InterfaceName {
        IpAddress exporter;
        std::uint32_t if_index = 0;
        friend bool operator==(const InterfaceName&, const InterfaceName&) = default;
        friend std::size_t hash_value(const InterfaceName& n) {
            std::size_t h = hash_value(n.exporter);
            boost::hash_combine(h, n.if_index);
            return h;
        }
    };

    const Pipeline& pipeline_;
    const Config& config_;
    const exporters::ApplicationMap& applications_;
    double start_seconds_;
    std::mutex mutex_;
    BoundedNames<IpAddress> exporters_;
    BoundedNames<InterfaceName> interfaces_;
};

// Every configured webhook is named (config caps them at 32), with every failure reason it has seen.
void write_webhooks(exporters::MetricWriter& w, const exporters::WebhookDispatcher& webhooks) {
    for (const auto& s : webhooks.stats()) {
        w.add("flowguard_webhook_deliveries_total", {s.name}, static_cast<double>(s.deliveries));
        for (const auto& [reason, n] : s.failures)
            w.add("flowguard_webhook_failures_total", {s.name, reason}, static_cast<double>(n));
        w.add("flowguard_webhook_spool_depth", {s.name}, static_cast<double>(s.spool_depth));
        w.add("flowguard_webhook_spool_drops_total", {s.name}, static_cast<double>(s.spool_drops));
    }
}

}  // namespace

exporters::MetricsProvider make_metrics_provider(const Pipeline& pipeline, const Config& config,
                                                 const exporters::ApplicationMap& applications,
                                                 const exporters::WebhookDispatcher* webhooks) {
    auto metrics = std::make_shared<DaemonMetrics>(pipeline, config, applications);
    return [metrics, webhooks](exporters::MetricWriter& w) {
        metrics->write(w);
        if (webhooks != nullptr) write_webhooks(w, *webhooks);
    };
}

}  // namespace flowguard::app
