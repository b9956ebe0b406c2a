#pragma once
// What the commands share when they wire sources, stages and sinks: the detectors' inputs, the metric
// catalogue, and the summary line.
#include "config.hpp"

#include <flowguard/analyzer/analyzer.hpp>
#include <flowguard/core/stage.hpp>
#include <flowguard/exporters/metrics.hpp>
#include <flowguard/exporters/outputs.hpp>

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
    std::unique_ptr<analyzer::Analyzer> analyzer(const Config& config) const;
    // SIGHUP: the lists again, from the analyzer section of `config_path` (or `fallback` without a file); an
    // error anywhere keeps the previous lists, and is logged.
    void reload(const std::string& config_path, const AnalyzerConfig& fallback) const;
};

// Every metric of every module, for the endpoint and `metrics-doc`.
const exporters::MetricCatalog& metric_catalog();

void print_summary(const boost::json::object& summary);  // one JSON line on stderr, the last one

}  // namespace flowguard::app
