#pragma once
// What the commands share when they wire sources, stages and sinks: the detectors' inputs, the metric
// catalogue, and the summary line.
#include "config.hpp"

#include <flowguard/analyzer/analyzer.hpp>
#include <flowguard/analyzer/lateral_stage.hpp>
#include <flowguard/collector/capture_file_source.hpp>
#include <flowguard/core/stage.hpp>
#include <flowguard/exporters/flow_log_source.hpp>
#include <flowguard/exporters/metrics.hpp>
#include <flowguard/exporters/outputs.hpp>
#include <flowguard/pipeline/runner.hpp>

#include <boost/json/object.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace flowguard::app {

using exporters::AlertOutputs;
using exporters::FlowOutput;

// The detectors' shared inputs: the Public Suffix List (a warning and the last-two-labels fallback when it
// cannot be read) and the lists SIGHUP replaces (throws naming file:line).
struct DetectorInputs {
    analyzer::PublicSuffixList suffixes = analyzer::PublicSuffixList::fallback();
    std::unique_ptr<analyzer::ListUpdates> lists;
    static DetectorInputs load(const AnalyzerConfig& config);
    // One shard's analyzer, with its share of the process-wide caps (share_per_shard).
    std::unique_ptr<analyzer::Analyzer> analyzer(const Config& config, std::size_t shards = 1) const;
    // SIGHUP: the lists again, from the analyzer section of `config_path` (or `fallback` without a file); an
    // error anywhere keeps the previous lists, and is logged.
    void reload(const std::string& config_path, const AnalyzerConfig& fallback) const;
};

// The lateral-movement stage (null when analyzer.lateral.enabled is false) with the graph saved in
// analyzer.lateral.state_file restored when `restore_state`, and `baseline` (a saved graph, "" = none) merged.
// Throws naming file:line when a saved graph is broken.
std::unique_ptr<analyzer::LateralStage> lateral_stage(const Config& config, const std::string& baseline,
                                                      bool restore_state);

// The offline inputs of `analyze` and `graph`: captures (flow exports decoded, traffic metered) and flow/DNS
// logs, read in order into one runner. Returns 1 when one could not be read (logged), else 0.
struct OfflineCounters {
    collector::CaptureFileCounters capture;
    exporters::FlowLogCounters log;
    void summarize(boost::json::object& summary) const;
};
int read_offline_inputs(const Config& config, const std::vector<std::string>& inputs, pipeline::Runner& runner,
                        OfflineCounters& counters);

// Every metric of every module, for the endpoint and `metrics-doc`.
const exporters::MetricCatalog& metric_catalog();

void print_summary(const boost::json::object& summary);  // one JSON line on stderr, the last one

}  // namespace flowguard::app
