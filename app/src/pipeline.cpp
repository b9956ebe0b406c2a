#include "pipeline.hpp"

#include <flowguard/exporters/flow_format.hpp>

namespace flowguard::app {

exporters::FlowFormat parse_flow_format(const std::string& text);

std::size_t or_cores(std::size_t configured) {
    if (configured != 0) return configured;
    return std::max(1u, std::thread::hardware_concurrency());
}

std::shared_ptr<const analyzer::IocList> load_iocs(const AnalyzerConfig& config) {
    auto lists = std::make_shared<analyzer::IocList>(analyzer::IocList::sunburst());
    for (const auto& file : config.ioc_files) lists->load_file(file);  // throws naming file:line
    return lists;
}

Pipeline build_pipeline(const Config& config, LineSink& sink, LiveAnalysis* analysis,
                        const exporters::ApplicationMap* applications) {
    Pipeline p;
    const auto receivers = or_cores(config.collector.receive_threads);
    const auto shards = or_cores(config.pipeline.shards);
    const auto format = parse_flow_format(config.output.format);
    p.channels.resize(receivers);
    for (std::size_t r = 0; r < receivers; ++r) {
        std::vector<BatchChannel*> outputs;
        for (std::size_t s = 0; s < shards; ++s) {
            p.channels[r].push_back(std::make_unique<BatchChannel>(config.pipeline.batches_per_channel));
            outputs.push_back(p.channels[r].back().get());
        }
        p.receivers.push_back(std::make_unique<collector::UdpReceiver>(
            config.collector, collector::ShardRouter(config.pipeline.internal_networks, shards), outputs));
    }
    for (std::size_t s = 0; s < shards; ++s) {
        std::vector<BatchChannel*> inputs;
        for (std::size_t r = 0; r < receivers; ++r) inputs.push_back(p.channels[r][s].get());
        ShardAnalysis shard_analysis;
        if (analysis) {
            shard_analysis.analyzer = std::make_unique<analyzer::Analyzer>(
                config.analyzer, config.pipeline.internal_networks, *analysis->suffixes, *analysis->iocs->current());
            shard_analysis.alerts = analysis->sink.get();
            shard_analysis.iocs = analysis->iocs.get();
        }
        std::unique_ptr<exporters::TrafficStats> traffic;
        if (applications) traffic = std::make_unique<exporters::TrafficStats>(config.metrics, *applications);
        p.shards.push_back(
            std::make_unique<ShardWorker>(inputs, format, sink, std::move(shard_analysis), std::move(traffic)));
    }
    return p;
}


std::vector<const collector::FlowDecoder*> Pipeline::decoders() const {
    std::vector<const collector::FlowDecoder*> out;
    for (const auto& r : receivers) out.push_back(&r->decoder());
    return out;
}

PipelineCounters Pipeline::counters() const {
    PipelineCounters c;
    for (const auto& r : receivers) {
        c.kernel_drops += r->counters().kernel_drops.load(std::memory_order_relaxed);
        c.ring_drops += r->counters().ring_drops.load(std::memory_order_relaxed);
        c.truncated_datagrams += r->counters().truncated.load(std::memory_order_relaxed);
        c.receive_errors += r->counters().receive_errors.load(std::memory_order_relaxed);
    }
    for (const auto& s : shards) {
        c.records_written += s->records_written();
        c.records_delivered += s->records();
    }
    return c;
}

PipelineThreads::PipelineThreads(Pipeline& pipeline) : pipeline_(pipeline) {
    for (auto& s : pipeline_.shards) shard_threads_.emplace_back([&s, this] { s->run(receivers_done_); });
    for (auto& r : pipeline_.receivers) receive_threads_.emplace_back([&r, this] { r->run(stop_receiving_); });
}

void PipelineThreads::stop_and_drain() {
    stop_receiving_.store(true, std::memory_order_release);
    for (auto& t : receive_threads_)
        if (t.joinable()) t.join();
    receivers_done_.store(true, std::memory_order_release);
    for (auto& t : shard_threads_)
        if (t.joinable()) t.join();
}

PipelineThreads::~PipelineThreads() { stop_and_drain(); }

}  // namespace flowguard::app
