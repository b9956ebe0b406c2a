#pragma once
// flowguard's Prometheus endpoint. Every metric is declared once, by the module that counts it (counter tables
// and MetricSpecs, core/counters.hpp); the command wiring gathers those declarations into a MetricCatalog, from
// which docs/METRICS.md is generated (`flowguard metrics-doc`) and against which every scrape is checked: a
// scrape can only emit what the catalogue declares. Values are not kept here: at each scrape a provider reads
// the threads' published snapshots and writes them through a MetricWriter, so no hot path touches a
// Prometheus object or a lock.
#include <flowguard/core/counters.hpp>
#include <flowguard/exporters/config.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace flowguard::exporters {

class MetricCatalog {
public:
    // Throws std::logic_error for a name declared twice with different types, help or labels.
    explicit MetricCatalog(std::vector<MetricSpec> specs);
    const std::vector<MetricSpec>& specs() const noexcept { return specs_; }
    const MetricSpec* find(std::string_view name) const noexcept;

private:
    std::vector<MetricSpec> specs_;
};

// The process's own metrics (build, start time), and those exporters/ counts (traffic statistics, webhooks).
void append_process_metric_specs(std::vector<MetricSpec>& catalog);
void append_exporter_metric_specs(std::vector<MetricSpec>& catalog);
std::string metrics_markdown(const MetricCatalog& catalog);  // docs/METRICS.md

// Collects one scrape.
class MetricWriter final : public MetricSink {
public:
    explicit MetricWriter(const MetricCatalog& catalog);
    ~MetricWriter() override;
    MetricWriter(const MetricWriter&) = delete;
    MetricWriter& operator=(const MetricWriter&) = delete;

    using MetricSink::add;
    // Throws std::logic_error for a name outside the catalogue or a wrong number of label values: a
    // programming error that the metrics tests catch.
    void add(std::string_view name, std::span<const std::string_view> label_values, double value) override;

    struct Families;
    Families& families() noexcept { return *families_; }

private:
    const MetricCatalog& catalog_;
    std::unique_ptr<Families> families_;
};

using MetricsProvider = std::function<void(MetricSink&)>;

// The /metrics endpoint: prometheus-cpp's pull exposer (civetweb) over HTTP, or HTTPS when
// metrics.tls_cert_file is set (served by Beast: Debian's civetweb cannot do TLS with OpenSSL 3); basic auth
// on either.
class MetricsEndpoint {
public:
    // Throws std::runtime_error when the address cannot be bound. `catalog` must outlive the endpoint.
    MetricsEndpoint(const MetricsConfig& config, const MetricCatalog& catalog, MetricsProvider provider);
    ~MetricsEndpoint();
    MetricsEndpoint(const MetricsEndpoint&) = delete;
    MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

    std::vector<int> ports() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The text exposition of one scrape.
std::string render_metrics(const MetricCatalog& catalog, const MetricsProvider& provider);

}  // namespace flowguard::exporters
