#pragma once
// What the commands share when they wire sources, stages and sinks: outputs opened from their targets, the
// alert sinks, the detectors' lists, the metric catalogue, and the summary line.
#include <flowguard/analyzer/analyzer.hpp>
#include <flowguard/core/config.hpp>
#include <flowguard/core/stage.hpp>
#include <flowguard/exporters/flow_format.hpp>
#include <flowguard/exporters/line_output.hpp>
#include <flowguard/exporters/metrics.hpp>
#include <flowguard/exporters/webhook.hpp>

#include <boost/json/object.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace flowguard::app {

// On SIGTERM (or the end of `analyze`), alerts raised while draining get this long to reach their webhooks;
// the rest stay spooled for the next start.
inline constexpr std::chrono::seconds kWebhookShutdownGrace{5};

// Flow records in the named format to a target ("-" or a file, appended): none when the format is "none".
// Throws std::runtime_error naming the target it could not open.
struct FlowOutput {
    const exporters::FlowLineFormat* format = nullptr;
    std::unique_ptr<exporters::LineOutput> lines;
    static FlowOutput open(const std::string& format, const std::string& target);
    // A stage writing into it (one per shard); null when there is no output.
    std::unique_ptr<Stage> stage() const;
    std::uint64_t written() const { return lines ? lines->lines_written() : 0; }
    bool failed() const { return lines && lines->failed(); }
};

// Where alerts go: the alert log (JSON lines to a target) and the configured webhooks.
struct AlertOutputs {
    std::unique_ptr<exporters::LineOutput> lines;
    std::unique_ptr<exporters::AlertLog> log;
    std::unique_ptr<exporters::WebhookDispatcher> webhooks;  // null without alerts.webhooks
    // Throws std::runtime_error (an alert log that cannot be opened, a bad webhook URL or spool directory).
    static AlertOutputs open(const std::string& target, const AlertsConfig& config);
    std::vector<AlertSink*> sinks() const;
    std::uint64_t written() const { return log ? log->alerts_written() : 0; }
    void stop() const;  // gives webhooks kWebhookShutdownGrace to deliver what is spooled
};

// The detectors' shared inputs: the Public Suffix List (a warning and the last-two-labels fallback when it
// cannot be read) and the lists SIGHUP replaces (throws naming file:line).
struct DetectorInputs {
    analyzer::PublicSuffixList suffixes = analyzer::PublicSuffixList::fallback();
    std::unique_ptr<analyzer::ListUpdates> lists;
    static DetectorInputs load(const AnalyzerConfig& config);
    std::unique_ptr<analyzer::Analyzer> analyzer(const Config& config) const;
    // SIGHUP: the lists again, from the analyzer section of `config_path` (or `fallback` without a file); an
    // error anywhere keeps the previous lists, and is logged.
    void reload(const std::string& config_path, const AnalyzerConfig& fallback) const;
};

// Every metric of every module, for the endpoint and `metrics-doc`.
const exporters::MetricCatalog& metric_catalog();

void print_summary(const boost::json::object& summary);  // one JSON line on stderr, the last one

}  // namespace flowguard::app
