// flowguard analyze INPUT...: every detector over captures and flow logs, at full speed (retro-hunt).
// pcap/pcapng: each packet is either a flow export (NetFlow v5/v9, IPFIX, sFlow: decoded) or traffic (metered,
// with passive DNS). Logs: flow records and DNS events as JSON lines (goflow2, `meter --dns-log`), or CSV.
// Inputs are read in the order given, into the same detectors; alerts go to stdout and any webhooks. The
// lateral-movement stage sees what the daemon's forwarders would give it; --baseline loads a saved graph.
#include "commands.hpp"
#include "wiring.hpp"

#include <flowguard/pipeline/forwarder.hpp>

#include <spdlog/spdlog.h>

namespace flowguard::app {

int run_analyze(const Config& config, const AnalyzeOptions& options) {
    DetectorInputs detectors;
    AlertOutputs alerts;
    std::unique_ptr<analyzer::LateralStage> lateral;
    try {
        detectors = DetectorInputs::load(config.analyzer);
        lateral = lateral_stage(config, options.baseline, false);
        alerts = AlertOutputs::open("-", config.alerts);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 2;
    }
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(detectors.analyzer(config));
    const auto& engine = static_cast<const analyzer::Analyzer&>(*stages.back());
    const analyzer::LateralStage* graph = lateral.get();
    // The same records the daemon's forwarders would pick, in this thread.
    if (lateral) stages.push_back(std::make_unique<pipeline::SelectedStage>(std::move(lateral)));
    pipeline::Runner runner(std::move(stages), alerts.sinks());
    OfflineCounters counters;
    const int rc = read_offline_inputs(config, options.inputs, runner, counters);
    runner.finish();
    alerts.stop();
    boost::json::object summary{{"files", options.inputs.size()}, {"alerts", alerts.written()}};
    counters.summarize(summary);
    add_to_summary(summary, engine.stats(), analyzer::kAnalyzerStats);
    if (graph != nullptr) {
        boost::json::object part;
        add_to_summary(part, graph->counters(), analyzer::kLateralCounters);
        summary["lateral"] = std::move(part);
    }
    print_summary(summary);
    return rc;
}

}  // namespace flowguard::app
