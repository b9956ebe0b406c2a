#include "wiring.hpp"

#include <flowguard/collector/report.hpp>
#include <flowguard/pipeline/live_pipeline.hpp>

#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cstdio>

namespace flowguard::app {

DetectorInputs DetectorInputs::load(const AnalyzerConfig& config) {
    DetectorInputs in;
    try {
        in.suffixes = analyzer::PublicSuffixList::load(config.public_suffix_list);
    } catch (const std::exception& e) {
        spdlog::warn("{}; registered domains fall back to the last two labels", e.what());
    }
    in.lists = std::make_unique<analyzer::ListUpdates>(analyzer::load_lists(config));
    return in;
}

std::unique_ptr<analyzer::Analyzer> DetectorInputs::analyzer(const Config& config, std::size_t shards) const {
    return std::make_unique<analyzer::Analyzer>(share_per_shard(config.analyzer, shards),
                                                config.pipeline.internal_networks, suffixes, lists->current()->iocs,
                                                lists.get());
}

void DetectorInputs::reload(const std::string& config_path, const AnalyzerConfig& fallback) const {
    try {
        const auto lists_now =
            analyzer::load_lists(config_path.empty() ? fallback : load_config_file(config_path).analyzer);
        spdlog::info("SIGHUP: {} indicators, {} allow-listed ports, {} allow-listed domains loaded",
                     lists_now->iocs.size(), lists_now->allow_ports.size(), lists_now->allow_domains.size());
        lists->publish(lists_now);
    } catch (const std::exception& e) {
        spdlog::error("SIGHUP: lists not reloaded, the previous ones stay: {}", e.what());
    }
}

std::unique_ptr<analyzer::LateralStage> lateral_stage(const Config& config, const std::string& baseline,
                                                      bool restore_state) {
    if (!config.analyzer.lateral.enabled) {
        if (!baseline.empty())
            throw ConfigError("--baseline", "lateral movement is off (analyzer.lateral.enabled: false)");
        return nullptr;
    }
    auto settings = config.analyzer.lateral;
    if (!restore_state) settings.state_file.clear();  // offline runs never overwrite the daemon's graph
    auto stage = std::make_unique<analyzer::LateralStage>(settings, config.pipeline.internal_networks);
    if (restore_state) stage->restore();
    if (!baseline.empty()) {
        stage->load(baseline);
        spdlog::info("lateral: baseline {} loaded ({} hosts, {} edges)", baseline, stage->graph().host_count(),
                     stage->graph().edge_count());
    }
    return stage;
}

namespace {

// On a terminal: which input, and the packets read so far in all of them.
void progress(const std::string& path, std::size_t index, std::size_t files, std::uint64_t packets, bool final) {
    static const bool terminal = ::isatty(STDERR_FILENO) == 1;
    if (!terminal) return;
    std::fprintf(stderr, "\ranalyze: file %zu/%zu %s: %llu packets%s", index + 1, files, path.c_str(),
                 static_cast<unsigned long long>(packets), final ? "\n" : "");
}

}  // namespace

int read_offline_inputs(const Config& config, const std::vector<std::string>& inputs, pipeline::Runner& runner,
                        OfflineCounters& counters) {
    int rc = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const auto& path = inputs[i];
        bool ok = false;
        if (exporters::sniff_log_format(path) != exporters::LogFormat::other) {
            exporters::FlowLogSource log(path, counters.log);
            runner.run(log);
            ok = log.opened();
        } else {
            const auto show = [&, i](const std::string&, std::size_t, std::size_t, std::uint64_t n, bool final) {
                progress(path, i, inputs.size(), n, final);
            };
            collector::CaptureFileSource capture({path}, config.collector, config.meter,
                                                 {collector::CaptureContent::mixed, {}, show}, counters.capture);
            runner.run(capture);
            ok = !capture.failed();
        }
        if (!ok) {
            spdlog::error("input '{}' was not read, or not whole", path);
            rc = 1;
        }
    }
    return rc;
}

void OfflineCounters::summarize(boost::json::object& summary) const {
    add_to_summary(summary, capture, collector::kMixedCaptureCounters);
    add_to_summary(summary, log, exporters::kJsonLogCounters);
    if (log.csv_lines) add_to_summary(summary, log, exporters::kCsvLogCounters);
}

const exporters::MetricCatalog& metric_catalog() {
    static const exporters::MetricCatalog catalog = [] {
        std::vector<MetricSpec> specs;
        exporters::append_process_metric_specs(specs);
        collector::append_collector_metric_specs(specs);
        pipeline::LivePipeline::append_metric_specs(specs);
        analyzer::Analyzer::append_metric_specs(specs);
        analyzer::LateralStage::append_metric_specs(specs);
        exporters::append_exporter_metric_specs(specs);
        return exporters::MetricCatalog(std::move(specs));
    }();
    return catalog;
}

void print_summary(const boost::json::object& summary) {
    const auto text = boost::json::serialize(summary);
    std::fprintf(stderr, "%s\n", text.c_str());
    std::fflush(stderr);
}

}  // namespace flowguard::app
