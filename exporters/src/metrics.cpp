#include "metrics_https.hpp"

#include <flowguard/exporters/metrics.hpp>

#include <fmt/format.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <map>
#include <stdexcept>

namespace flowguard::exporters {
namespace {

using T = MetricType;

// The catalogue. Names follow https://prometheus.io/docs/practices/naming/: flowguard_ prefix, base units
// (bytes, seconds), _total for counters. Label values are bounded: exporters and interfaces by
// metrics.max_exporters / max_interfaces (the rest is "other"), shards and receivers by configuration,
// alert kinds and applications by code and config, ranks by metrics.top_k.
const std::vector<MetricSpec> kCatalog{
    // Process
    {"flowguard_build_info", T::gauge, "Always 1; the labels tell the build.", {"version"}},
    {"flowguard_start_time_seconds", T::gauge, "Unix time the daemon started.", {}},
    // Collector, per exporter stream
    {"flowguard_received_packets_total",
     T::counter,
     "Export datagrams received and decoded.",
     {"exporter", "flow_protocol"}},
    {"flowguard_received_bytes_total",
     T::counter,
     "UDP payload bytes of export datagrams.",
     {"exporter", "flow_protocol"}},
    {"flowguard_records_total",
     T::counter,
     "Flow records decoded (sFlow: flow samples).",
     {"exporter", "flow_protocol"}},
    {"flowguard_decode_errors_total",
     T::counter,
     "Malformed headers, sets, records or samples.",
     {"exporter", "flow_protocol"}},
    {"flowguard_unknown_template_total",
     T::counter,
     "Data sets never decoded because their template never came.",
     {"exporter", "flow_protocol"}},
    {"flowguard_sequence_lost_total",
     T::counter,
     "Units (v5/IPFIX records, v9/sFlow datagrams) missing from the exporter's sequence.",
     {"exporter", "flow_protocol"}},
    {"flowguard_sequence_reordered_total",
     T::counter,
     "Export datagrams that arrived after a later one.",
     {"exporter", "flow_protocol"}},
    {"flowguard_sequence_duplicate_total", T::counter, "Export datagrams seen twice.", {"exporter", "flow_protocol"}},
    {"flowguard_exporter_last_seen_timestamp_seconds",
     T::gauge,
     "Unix time of the exporter's last datagram.",
     {"exporter", "flow_protocol"}},
    // Collector, pipeline
    {"flowguard_templates", T::gauge, "Templates held (all exporters).", {}},
    {"flowguard_kernel_drops_total",
     T::counter,
     "Datagrams the kernel dropped on flowguard's sockets (SO_RXQ_OVFL).",
     {}},
    {"flowguard_ring_drops_total",
     T::counter,
     "Records dropped because a shard's ring was full (receiver: receive thread index, or captureN for span-port "
     "capture threads).",
     {"receiver"}},
    {"flowguard_truncated_datagrams_total",
     T::counter,
     "Datagrams longer than collector.max_datagram, not decoded.",
     {}},
    {"flowguard_stream_limit_drops_total",
     T::counter,
     "Datagrams from exporter streams beyond collector.max_streams.",
     {}},
    {"flowguard_queue_depth_batches", T::gauge, "Record batches waiting in a shard's rings.", {"shard"}},
    {"flowguard_shard_records_total", T::counter, "Records a shard received.", {"shard"}},
    // sFlow interface counters (utilisation without SNMP)
    {"flowguard_interface_octets_total",
     T::counter,
     "Interface octets reported by sFlow counter samples.",
     {"exporter", "if_index", "direction"}},
    {"flowguard_interface_packets_total",
     T::counter,
     "Interface packets reported by sFlow counter samples.",
     {"exporter", "if_index", "direction"}},
    {"flowguard_interface_errors_total",
     T::counter,
     "Interface errors reported by sFlow counter samples.",
     {"exporter", "if_index", "direction"}},
    {"flowguard_interface_discards_total",
     T::counter,
     "Interface discards reported by sFlow counter samples.",
     {"exporter", "if_index", "direction"}},
    {"flowguard_interface_speed_bytes",
     T::gauge,
     "Interface speed in bytes per second (sFlow ifSpeed / 8).",
     {"exporter", "if_index"}},
    {"flowguard_interface_up",
     T::gauge,
     "1 when the interface is operationally up (sFlow ifOperStatus).",
     {"exporter", "if_index"}},
    // Span-port meter
    {"flowguard_capture_packets_total", T::counter, "Packets the capture delivered (pcap_stats).", {"interface"}},
    {"flowguard_capture_drops_total",
     T::counter,
     "Packets the kernel or driver dropped before capture (pcap_stats).",
     {"interface"}},
    {"flowguard_meter_flows", T::gauge, "Flows in the meter's flow tables.", {}},
    {"flowguard_meter_records_total", T::counter, "Flow records the meter produced (flows ended or reported).", {}},
    {"flowguard_meter_evictions_total", T::counter, "Flows evicted early because the flow table was full.", {}},
    {"flowguard_meter_malformed_total", T::counter, "Captured packets truncated or malformed below layer 4.", {}},
    {"flowguard_dns_messages_total", T::counter, "DNS messages seen by the meter and in sFlow samples.", {}},
    {"flowguard_dns_drops_total", T::counter, "DNS events dropped because a shard's DNS ring was full.", {"receiver"}},
    // Analyzer
    {"flowguard_analyzer_flows_total", T::counter, "Flow records the detectors examined.", {}},
    {"flowguard_analyzer_dns_events_total", T::counter, "DNS events the detectors examined.", {}},
    {"flowguard_analyzer_series", T::gauge, "Beacon series (client, target) tracked now.", {}},
    {"flowguard_analyzer_series_evictions_total", T::counter, "Beacon series evicted at the cap.", {}},
    {"flowguard_alerts_total", T::counter, "Alerts raised.", {"kind", "severity"}},
    {"flowguard_webhook_deliveries_total", T::counter, "Alerts a webhook receiver accepted (2xx).", {"webhook"}},
    {"flowguard_webhook_failures_total",
     T::counter,
     "Failed delivery attempts by reason: connect, timeout, tls, http_status (retried), rejected, spool (kept in "
     "rejected/).",
     {"webhook", "reason"}},
    {"flowguard_webhook_spool_depth", T::gauge, "Alerts waiting in a webhook's disk spool.", {"webhook"}},
    {"flowguard_webhook_spool_drops_total",
     T::counter,
     "Alerts not spooled for a webhook (spool full or not writable).",
     {"webhook"}},
    // Traffic (what an NTA console shows); bytes and packets scaled by the sampling rate
    {"flowguard_traffic_bytes_total",
     T::counter,
     "Bytes by exporter interface and direction (in: in_if, out: out_if).",
     {"exporter", "if_index", "direction"}},
    {"flowguard_traffic_packets_total",
     T::counter,
     "Packets by exporter interface and direction.",
     {"exporter", "if_index", "direction"}},
    {"flowguard_traffic_flows_total",
     T::counter,
     "Flow records by exporter interface and direction.",
     {"exporter", "if_index", "direction"}},
    {"flowguard_protocol_bytes_total", T::counter, "Bytes by IP protocol.", {"protocol"}},
    {"flowguard_protocol_packets_total", T::counter, "Packets by IP protocol.", {"protocol"}},
    {"flowguard_application_bytes_total",
     T::counter,
     "Bytes by application (well-known server port, metrics.applications).",
     {"application"}},
    {"flowguard_application_flows_total", T::counter, "Flow records by application.", {"application"}},
    {"flowguard_top_talker_bytes",
     T::gauge,
     "Top sources by bytes in the last complete window (metrics.top_window).",
     {"rank", "address"}},
    {"flowguard_top_destination_bytes",
     T::gauge,
     "Top destinations by bytes in the last complete window.",
     {"rank", "address"}},
    {"flowguard_top_conversation_bytes",
     T::gauge,
     "Top source/destination pairs by bytes in the last complete window.",
     {"rank", "src", "dst"}},
};

prometheus::MetricType to_prometheus(MetricType t) {
    return t == MetricType::counter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge;
}

}  // namespace

const std::vector<MetricSpec>& metric_catalog() {
    return kCatalog;
}

const MetricSpec* find_metric(std::string_view name) noexcept {
    for (const auto& m : kCatalog)
        if (m.name == name) return &m;
    return nullptr;
}

std::string metrics_markdown() {
    std::string out =
        "# Metrics\n\n"
        "Generated from the code's own catalogue by `flowguard metrics-doc` (exporters/src/metrics.cpp); a test\n"
        "fails when this file and the code disagree. `flowguard run` serves them on `metrics.listen`\n"
        "(default `127.0.0.1:9465`, path `/metrics`). Counters are cumulative since start; label values are\n"
        "bounded by the caps of the `metrics:` section (docs/CONFIGURATION.md).\n\n"
        "| Metric | Type | Labels | Meaning |\n|---|---|---|---|\n";
    for (const auto& m : kCatalog) {
        std::string labels;
        for (const auto& l : m.labels) labels += (labels.empty() ? "" : ", ") + std::string(l);
        out += fmt::format("| `{}` | {} | {} | {} |\n", m.name, m.type == MetricType::counter ? "counter" : "gauge",
                           labels.empty() ? "-" : labels, m.help);
    }
    return out;
}

struct MetricWriter::Families {
    std::map<std::string_view, prometheus::MetricFamily> by_name;
};

MetricWriter::MetricWriter() : families_(std::make_unique<Families>()) {}
MetricWriter::~MetricWriter() = default;

void MetricWriter::add(std::string_view name, std::initializer_list<std::string_view> label_values, double value) {
    std::vector<std::string> values;
    values.reserve(label_values.size());
    for (const auto& v : label_values) values.emplace_back(v);
    add(name, values, value);
}

void MetricWriter::add(std::string_view name, const std::vector<std::string>& label_values, double value) {
    const MetricSpec* spec = find_metric(name);
    if (spec == nullptr) throw std::logic_error(fmt::format("metric {} is not in the catalogue", name));
    if (spec->labels.size() != label_values.size())
        throw std::logic_error(
            fmt::format("metric {} takes {} labels, got {}", name, spec->labels.size(), label_values.size()));
    auto [it, inserted] = families_->by_name.try_emplace(spec->name);
    auto& family = it->second;
    if (inserted) {
        family.name = std::string(spec->name);
        family.help = std::string(spec->help);
        family.type = to_prometheus(spec->type);
    }
    prometheus::ClientMetric metric;
    for (std::size_t i = 0; i < label_values.size(); ++i)
        metric.label.push_back({std::string(spec->labels[i]), label_values[i]});
    if (spec->type == MetricType::counter)
        metric.counter.value = value;
    else
        metric.gauge.value = value;
    family.metric.push_back(std::move(metric));
}

namespace {

std::vector<prometheus::MetricFamily> collect(const MetricsProvider& provider) {
    MetricWriter writer;
    provider(writer);
    std::vector<prometheus::MetricFamily> out;
    for (auto& [name, family] : writer.families().by_name) out.push_back(std::move(family));
    return out;
}

class ProviderCollectable : public prometheus::Collectable {
public:
    explicit ProviderCollectable(MetricsProvider provider) : provider_(std::move(provider)) {}
    std::vector<prometheus::MetricFamily> Collect() const override { return collect(provider_); }

private:
    MetricsProvider provider_;
};

// civetweb options. No TLS: with Debian 12's civetweb the first HTTPS request crashes the process (a worker
// calls a libssl function its OpenSSL 3 table left NULL); HTTPS is served by HttpsMetricsServer instead.
std::vector<std::string> civetweb_options(const MetricsConfig& config) {
    return {"listening_ports", config.listen, "num_threads", "2"};
}

}  // namespace

struct MetricsEndpoint::Impl {
    std::shared_ptr<ProviderCollectable> collectable;
    std::unique_ptr<prometheus::Exposer> exposer;  // plain HTTP
    std::unique_ptr<HttpsMetricsServer> https;     // or HTTPS
};

MetricsEndpoint::MetricsEndpoint(const MetricsConfig& config, MetricsProvider provider)
    : impl_(std::make_unique<Impl>()) {
    if (!config.tls_cert_file.empty()) {
        impl_->https = std::make_unique<HttpsMetricsServer>(config, std::move(provider));
        return;
    }
    impl_->collectable = std::make_shared<ProviderCollectable>(std::move(provider));
    try {
        impl_->exposer = std::make_unique<prometheus::Exposer>(civetweb_options(config));
    } catch (const std::exception& e) {
        throw std::runtime_error(fmt::format("metrics endpoint {}: {}", config.listen, e.what()));
    }
    if (!config.username.empty()) {
        impl_->exposer->RegisterAuth(
            [user = config.username, password = config.password](const std::string& u, const std::string& p) {
                return u == user && p == password;
            },
            "flowguard");
    }
    impl_->exposer->RegisterCollectable(impl_->collectable);
}

MetricsEndpoint::~MetricsEndpoint() = default;

std::vector<int> MetricsEndpoint::ports() const {
    if (impl_->https) return {impl_->https->port()};
    return impl_->exposer->GetListeningPorts();
}

std::string render_metrics(const MetricsProvider& provider) {
    return prometheus::TextSerializer().Serialize(collect(provider));
}

}  // namespace flowguard::exporters
