#include "pipeline.hpp"

#include <flowguard/exporters/flow_format.hpp>

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <thread>

namespace flowguard::app {

exporters::FlowFormat parse_flow_format(const std::string& text);

std::size_t or_cores(std::size_t configured) {
    if (configured != 0) return configured;
    return std::max(1u, std::thread::hardware_concurrency());
}

std::shared_ptr<const AnalyzerLists> load_lists(const AnalyzerConfig& config) {
    auto lists = std::make_shared<AnalyzerLists>(
        AnalyzerLists{analyzer::IocList::sunburst(), config.beacon.allow_ports, config.beacon.allow_domains});
    for (const auto& file : config.ioc_files) lists->iocs.load_file(file);  // throws naming file:line
    return lists;
}

namespace {

// DNS events are rarer than flow records and ~7x larger: a quarter of the flow channel's batches.
std::size_t dns_batches(const Config& config) {
    return std::max<std::size_t>(4, config.pipeline.batches_per_channel / 4);
}

std::vector<collector::PacketCapture> open_captures(const MeterConfig& meter) {
    std::vector<collector::PacketCapture> captures;
    const std::size_t threads = std::max<std::size_t>(1, meter.capture_threads);
    // Several capture threads share the interface through one PACKET_FANOUT group (hash of the flow).
    const int fanout = threads > 1 ? static_cast<int>(::getpid() & 0xffff) : -1;
    for (std::size_t i = 0; i < threads; ++i) {
        collector::LiveCaptureOptions live{
            meter.interface, meter.bpf_filter, meter.snaplen, meter.promiscuous, meter.buffer_size, fanout, 100};
        captures.push_back(collector::PacketCapture::open_live(live));
    }
    return captures;
}

}  // namespace

Pipeline build_pipeline(const Config& config, LineSink& sink, LiveAnalysis* analysis,
                        const exporters::ApplicationMap* applications) {
    Pipeline p;
    const auto receivers = config.collector.listen.empty() ? 0 : or_cores(config.collector.receive_threads);
    auto captures = config.meter.interface.empty() ? std::vector<collector::PacketCapture>{}
                                                   : open_captures(config.meter);  // throws
    const auto producers = receivers + captures.size();
    const auto shards = or_cores(config.pipeline.shards);
    const auto format = parse_flow_format(config.output.format);
    p.channels.resize(producers);
    p.dns_channels.resize(producers);
    for (std::size_t r = 0; r < producers; ++r) {
        std::vector<BatchChannel*> outputs;
        std::vector<DnsChannel*> dns_outputs;
        for (std::size_t s = 0; s < shards; ++s) {
            p.channels[r].push_back(std::make_unique<BatchChannel>(config.pipeline.batches_per_channel));
            outputs.push_back(p.channels[r].back().get());
            if (analysis) {
                p.dns_channels[r].push_back(std::make_unique<DnsChannel>(dns_batches(config)));
                dns_outputs.push_back(p.dns_channels[r].back().get());
            }
        }
        collector::ShardRouter router(config.pipeline.internal_networks, shards);
        if (r < receivers) {
            p.receivers.push_back(
                std::make_unique<collector::UdpReceiver>(config.collector, std::move(router), outputs, dns_outputs));
        } else {
            p.captures.push_back(std::make_unique<collector::CaptureReceiver>(
                config.meter, std::move(captures[r - receivers]), std::move(router), outputs, dns_outputs));
        }
    }
    for (std::size_t s = 0; s < shards; ++s) {
        std::vector<BatchChannel*> inputs;
        std::vector<DnsChannel*> dns_inputs;
        for (std::size_t r = 0; r < producers; ++r) {
            inputs.push_back(p.channels[r][s].get());
            if (analysis) dns_inputs.push_back(p.dns_channels[r][s].get());
        }
        ShardAnalysis shard_analysis;
        if (analysis) {
            // At start the lists are config.analyzer's own; SIGHUP replaces them in the shards later.
            shard_analysis.analyzer =
                std::make_unique<analyzer::Analyzer>(config.analyzer, config.pipeline.internal_networks,
                                                     *analysis->suffixes, analysis->lists->current()->iocs);
            shard_analysis.alerts = analysis->sink.get();
            shard_analysis.webhooks = analysis->webhooks.get();
            shard_analysis.lists = analysis->lists.get();
        }
        std::unique_ptr<exporters::TrafficStats> traffic;
        if (applications) traffic = std::make_unique<exporters::TrafficStats>(config.metrics, *applications);
        p.shards.push_back(std::make_unique<ShardWorker>(inputs, format, sink, std::move(shard_analysis),
                                                         std::move(traffic), std::move(dns_inputs)));
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
        c.dns_drops += r->counters().dns_drops.load(std::memory_order_relaxed);
    }
    for (const auto& k : captures) {
        c.ring_drops += k->counters().ring_drops.load(std::memory_order_relaxed);
        c.dns_drops += k->counters().dns_drops.load(std::memory_order_relaxed);
    }
    for (const auto& s : shards) {
        c.records_written += s->records_written();
        c.records_delivered += s->records();
        c.dns_events_delivered += s->dns_events();
    }
    return c;
}

collector::CaptureSnapshot Pipeline::capture_totals() const {
    collector::CaptureSnapshot total;
    for (const auto& k : captures) {
        const auto snap = k->published();
        total.meter += snap.meter;
        total.drops += snap.drops;
        total.active_flows += snap.active_flows;
    }
    return total;
}

PipelineThreads::PipelineThreads(Pipeline& pipeline) : pipeline_(pipeline) {
    // Named, so that `top -H` and /proc/PID/task/*/comm tell an operator which thread takes the CPU.
    const auto named = [](std::string name, auto body) {
        return std::thread([name = std::move(name), body] {
            pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
            body();
        });
    };
    for (std::size_t i = 0; i < pipeline_.shards.size(); ++i)
        shard_threads_.push_back(
            named("fg-shard-" + std::to_string(i), [s = pipeline_.shards[i].get(), this] { s->run(receivers_done_); }));
    for (std::size_t i = 0; i < pipeline_.receivers.size(); ++i)
        receive_threads_.push_back(named("fg-recv-" + std::to_string(i),
                                         [r = pipeline_.receivers[i].get(), this] { r->run(stop_receiving_); }));
    for (std::size_t i = 0; i < pipeline_.captures.size(); ++i)
        receive_threads_.push_back(named("fg-capture-" + std::to_string(i),
                                         [k = pipeline_.captures[i].get(), this] { k->run(stop_receiving_); }));
}

void PipelineThreads::stop_and_drain() {
    stop_receiving_.store(true, std::memory_order_release);
    for (auto& t : receive_threads_)
        if (t.joinable()) t.join();
    receivers_done_.store(true, std::memory_order_release);
    for (auto& s : pipeline_.shards) s->wake();
    for (auto& t : shard_threads_)
        if (t.joinable()) t.join();
}

PipelineThreads::~PipelineThreads() {
    stop_and_drain();
}

}  // namespace flowguard::app
