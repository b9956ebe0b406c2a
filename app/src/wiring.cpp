#include "wiring.hpp"

#include <flowguard/collector/report.hpp>
#include <flowguard/pipeline/live_pipeline.hpp>

#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

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

std::unique_ptr<analyzer::Analyzer> DetectorInputs::analyzer(const Config& config) const {
    return std::make_unique<analyzer::Analyzer>(config.analyzer, config.pipeline.internal_networks, suffixes,
                                                lists->current()->iocs, lists.get());
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

const exporters::MetricCatalog& metric_catalog() {
    static const exporters::MetricCatalog catalog = [] {
        std::vector<MetricSpec> specs;
        exporters::append_process_metric_specs(specs);
        collector::append_collector_metric_specs(specs);
        pipeline::LivePipeline::append_metric_specs(specs);
        analyzer::Analyzer::append_metric_specs(specs);
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
