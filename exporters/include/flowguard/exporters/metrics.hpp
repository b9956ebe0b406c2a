#pragma once
// flowguard's Prometheus metrics. Every metric is declared once in a catalogue (name, type, help, label
// names); docs/METRICS.md is generated from it (`flowguard metrics-doc`), and a scrape can only emit what it
// declares. Values are not kept here: at each scrape a provider reads the threads' published snapshots
// and writes them through a MetricWriter, so no hot path touches a Prometheus object or a lock.
#include <flowguard/core/config.hpp>

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace flowguard::exporters {

enum class MetricType { counter, gauge };

struct MetricSpec {
    std::string_view name;
    MetricType type;
    std::string_view help;
    std::vector<std::string_view> labels;
};

const std::vector<MetricSpec>& metric_catalog();
const MetricSpec* find_metric(std::string_view name) noexcept;
std::string metrics_markdown();  // docs/METRICS.md

// Collects one scrape. Label values are given in the catalogue's label order.
class MetricWriter {
public:
    MetricWriter();
    ~MetricWriter();
    MetricWriter(const MetricWriter&) = delete;
    MetricWriter& operator=(const MetricWriter&) = delete;

    // Throws std::logic_error for a name outside the catalogue or a wrong number of label values: a
    // programming error that the metrics tests catch.
    void add(std::string_view name, std::initializer_list<std::string_view> label_values, double value);
    void add(std::string_view name, const std::vector<std::string>& label_values, double value);

    struct Families;
    Families& families() noexcept { return *families_; }

private:
    std::unique_ptr<Families> families_;
};

using MetricsProvider = std::function<void(MetricWriter&)>;

// The /metrics endpoint: prometheus-cpp's pull exposer (civetweb) over HTTP, or HTTPS when
// metrics.tls_cert_file is set (served by Beast: Debian's civetweb cannot do TLS with OpenSSL 3); basic auth
// on either.
class MetricsEndpoint {
public:
    // Throws std::runtime_error when the address cannot be bound.
    MetricsEndpoint(const MetricsConfig& config, MetricsProvider provider);
    ~MetricsEndpoint();
    MetricsEndpoint(const MetricsEndpoint&) = delete;
    MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

    std::vector<int> ports() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The text exposition of one scrape (tests).
std::string render_metrics(const MetricsProvider& provider);

}  // namespace flowguard::exporters
