// flowguard analyze INPUT...: every detector over captures and flow logs, at full speed (retro-hunt).
// pcap/pcapng: each packet is either a flow export (NetFlow v5/v9, IPFIX, sFlow: decoded) or traffic (metered,
// with passive DNS). Logs: flow records and DNS events as JSON lines (goflow2, `meter --dns-log`), or CSV.
// Inputs are read in the order given, into the same detectors; alerts go to stdout and any webhooks.
#include "commands.hpp"
#include "wiring.hpp"

#include <flowguard/collector/capture_file_source.hpp>
#include <flowguard/exporters/flow_log_source.hpp>
#include <flowguard/pipeline/runner.hpp>

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cstdio>

namespace flowguard::app {
namespace {

// On a terminal: which input, and the packets read so far in all of them.
void progress(const std::string& path, std::size_t index, std::size_t files, std::uint64_t packets, bool final) {
    static const bool terminal = ::isatty(STDERR_FILENO) == 1;
    if (!terminal) return;
    std::fprintf(stderr, "\ranalyze: file %zu/%zu %s: %llu packets%s", index + 1, files, path.c_str(),
                 static_cast<unsigned long long>(packets), final ? "\n" : "");
}

}  // namespace

int run_analyze(const Config& config, const std::vector<std::string>& inputs) {
    DetectorInputs detectors;
    AlertOutputs alerts;
    try {
        detectors = DetectorInputs::load(config.analyzer);
        alerts = AlertOutputs::open("-", config.alerts);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 2;
    }
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(detectors.analyzer(config));
    const auto& engine = static_cast<const analyzer::Analyzer&>(*stages.back());
    pipeline::Runner runner(std::move(stages), alerts.sinks());
    collector::CaptureFileCounters capture_counters;
    exporters::FlowLogCounters log_counters;
    int rc = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const auto& path = inputs[i];
        bool ok = false;
        if (exporters::sniff_log_format(path) != exporters::LogFormat::other) {
            exporters::FlowLogSource log(path, log_counters);
            runner.run(log);
            ok = log.opened();
        } else {
            const auto show = [&, i](const std::string&, std::size_t, std::size_t, std::uint64_t n, bool final) {
                progress(path, i, inputs.size(), n, final);
            };
            collector::CaptureFileSource capture({path}, config.collector, config.meter,
                                                 {collector::CaptureContent::mixed, {}, show}, capture_counters);
            runner.run(capture);
            ok = !capture.failed();
        }
        if (!ok) {
            spdlog::error("cannot read input '{}'", path);
            rc = 1;
        }
    }
    runner.finish();
    alerts.stop();
    boost::json::object summary{{"files", inputs.size()}, {"alerts", alerts.written()}};
    add_to_summary(summary, capture_counters, collector::kMixedCaptureCounters);
    add_to_summary(summary, log_counters, exporters::kJsonLogCounters);
    if (log_counters.csv_lines) add_to_summary(summary, log_counters, exporters::kCsvLogCounters);
    add_to_summary(summary, engine.stats(), analyzer::kAnalyzerStats);
    print_summary(summary);
    return rc;
}

}  // namespace flowguard::app
