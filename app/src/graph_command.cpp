// flowguard graph [--baseline FILE] INPUT...: the lateral-movement stage's graph after reading the inputs
// (what `analyze` would have learned), printed as JSON lines: a header, hosts with their configured and learned
// roles and baselines, edges with services, counts, first and last seen. The output loads back as a baseline
// (`analyze --baseline`, analyzer.lateral.state_file), so an operator can review and edit what was learned.
#include "commands.hpp"
#include "wiring.hpp"

#include <flowguard/pipeline/forwarder.hpp>

#include <spdlog/spdlog.h>

#include <iostream>

namespace flowguard::app {

int run_graph(const Config& config, const AnalyzeOptions& options) {
    std::unique_ptr<analyzer::LateralStage> lateral;
    try {
        auto enabled = config;
        enabled.analyzer.lateral.enabled = true;  // the graph is what this command is for
        lateral = lateral_stage(enabled, options.baseline, false);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 2;
    }
    const analyzer::LateralStage& graph = *lateral;
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(std::make_unique<pipeline::SelectedStage>(std::move(lateral)));
    pipeline::Runner runner(std::move(stages), {});  // alerts are analyze's job
    OfflineCounters counters;
    const int rc = read_offline_inputs(config, options.inputs, runner, counters);
    runner.finish();
    graph.graph().save(std::cout);
    std::cout.flush();
    boost::json::object summary{{"files", options.inputs.size()}};
    counters.summarize(summary);
    boost::json::object part;
    add_to_summary(part, graph.counters(), analyzer::kLateralCounters);
    summary["lateral"] = std::move(part);
    print_summary(summary);
    if (!std::cout) {
        spdlog::error("writing the graph failed");
        return 1;
    }
    return rc;
}

}  // namespace flowguard::app
