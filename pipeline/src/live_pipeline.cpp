#include <flowguard/pipeline/live_pipeline.hpp>

#include <pthread.h>

#include <algorithm>
#include <map>
#include <string>

namespace flowguard::pipeline {
namespace {

// DNS events are rarer than flow records and ~7x larger: a quarter of the flow channel's batches.
std::size_t dns_batches(std::size_t batches_per_channel) {
    return std::max<std::size_t>(4, batches_per_channel / 4);
}

// Named, so that `top -H` and /proc/PID/task/*/comm tell an operator which thread takes the CPU.
template <class Body>
std::thread named_thread(std::string name, Body body) {
    return std::thread([name = std::move(name), body] {
        pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
        body();
    });
}

}  // namespace

std::size_t or_cores(std::size_t configured) {
    if (configured != 0) return configured;
    return std::max(1u, std::thread::hardware_concurrency());
}

LivePipeline::LivePipeline(const LiveOptions& options, std::vector<std::unique_ptr<Source>> sources,
                           const StageFactory& make_stages, std::vector<AlertSink*> alert_sinks,
                           std::vector<std::unique_ptr<GlobalStage>> global_stages)
    : sources_(std::move(sources)) {
    const std::size_t shards = std::max<std::size_t>(1, options.shards);
    std::vector<std::vector<std::unique_ptr<Stage>>> stages(shards);
    bool dns_wanted = false;
    for (std::size_t s = 0; s < shards; ++s) {
        stages[s] = make_stages(s);
        for (const auto& stage : stages[s]) dns_wanted = dns_wanted || stage->wants_dns();
    }
    // Each global stage: a channel from every shard, a forwarder as that shard's last stage.
    for (auto& global : global_stages) {
        auto& channels = global_channels_.emplace_back();
        auto& forwarders = forwarders_.emplace_back();
        std::vector<BatchChannel*> inputs;
        for (std::size_t s = 0; s < shards; ++s) {
            channels.push_back(std::make_unique<BatchChannel>(options.batches_per_channel));
            inputs.push_back(channels.back().get());
            auto forwarder = std::make_unique<Forwarder>(global->selection(), *channels.back());
            forwarders.push_back(forwarder.get());
            stages[s].push_back(std::move(forwarder));
        }
        std::vector<std::unique_ptr<Stage>> own;
        own.push_back(std::move(global));
        globals_.push_back(
            std::make_unique<Shard>(std::move(inputs), std::vector<DnsChannel*>{}, std::move(own), alert_sinks));
    }
    std::map<std::string, std::size_t, std::less<>> per_kind;
    channels_.resize(sources_.size());
    dns_channels_.resize(sources_.size());
    for (std::size_t p = 0; p < sources_.size(); ++p) {
        const std::string kind(sources_[p]->kind());
        const auto index = std::to_string(per_kind[kind]++);
        labels_.push_back(kind == "recv" ? index : kind + index);
        thread_names_.push_back("fg-" + kind + "-" + index);
        std::vector<BatchChannel*> flows;
        std::vector<DnsChannel*> dns;
        for (std::size_t s = 0; s < shards; ++s) {
            channels_[p].push_back(std::make_unique<BatchChannel>(options.batches_per_channel));
            flows.push_back(channels_[p].back().get());
            if (dns_wanted) {
                dns_channels_[p].push_back(std::make_unique<DnsChannel>(dns_batches(options.batches_per_channel)));
                dns.push_back(dns_channels_[p].back().get());
            }
        }
        routings_.push_back(std::make_unique<ShardRouting>(ShardRouter(options.internal_networks, shards),
                                                           std::move(flows), std::move(dns)));
    }
    for (std::size_t s = 0; s < shards; ++s) {
        std::vector<BatchChannel*> inputs;
        std::vector<DnsChannel*> dns_inputs;
        for (std::size_t p = 0; p < sources_.size(); ++p) {
            inputs.push_back(channels_[p][s].get());
            if (dns_wanted) dns_inputs.push_back(dns_channels_[p][s].get());
        }
        shards_.push_back(
            std::make_unique<Shard>(std::move(inputs), std::move(dns_inputs), std::move(stages[s]), alert_sinks));
    }
}

void LivePipeline::start() {
    for (std::size_t g = 0; g < globals_.size(); ++g)
        global_threads_.push_back(named_thread("fg-global-" + std::to_string(g),
                                               [global = globals_[g].get(), this] { global->run(shards_done_); }));
    for (std::size_t s = 0; s < shards_.size(); ++s)
        shard_threads_.push_back(named_thread("fg-shard-" + std::to_string(s),
                                              [shard = shards_[s].get(), this] { shard->run(producers_done_); }));
    for (std::size_t p = 0; p < sources_.size(); ++p) {
        producer_threads_.push_back(
            named_thread(thread_names_[p], [source = sources_[p].get(), routing = routings_[p].get(), this] {
                source->run(stop_producing_, *routing);
            }));
    }
}

void LivePipeline::stop_and_drain() {
    if (stopped_) return;
    stopped_ = true;
    stop_producing_.store(true, std::memory_order_release);
    for (auto& t : producer_threads_)
        if (t.joinable()) t.join();
    producers_done_.store(true, std::memory_order_release);
    for (auto& s : shards_) s->wake();
    for (auto& t : shard_threads_)
        if (t.joinable()) t.join();
    shards_done_.store(true, std::memory_order_release);
    for (auto& g : globals_) g->wake();
    for (auto& t : global_threads_)
        if (t.joinable()) t.join();
}

LivePipeline::~LivePipeline() {
    stop_and_drain();
}

void LivePipeline::summarize(boost::json::object& summary) const {
    RoutingCounters routing;
    for (const auto& r : routings_) merge_counters(routing, r->counters(), kRoutingCounters);
    add_to_summary(summary, routing, kRoutingCounters);
    ShardCounters shards;
    for (const auto& s : shards_)
        merge_counters(shards, ShardCounters{s->records(), s->dns_events(), 0}, kShardCounters);
    add_to_summary(summary, shards, kShardCounters);
    if (forwarders_.empty()) return;
    ForwardCounters forwarded;
    for (const auto& per_global : forwarders_)
        for (const auto* f : per_global) merge_counters(forwarded, f->counters(), kForwardCounters);
    add_to_summary(summary, forwarded, kForwardCounters);
}

void LivePipeline::write_metrics(MetricSink& sink) const {
    for (std::size_t p = 0; p < routings_.size(); ++p)
        flowguard::write_metrics(sink, routings_[p]->counters(), kRoutingCounters, {labels_[p]});
    AlertCounts alerts;
    for (std::size_t s = 0; s < shards_.size(); ++s) {
        const auto snap = shards_[s]->published();
        flowguard::write_metrics(sink, snap.counters, kShardCounters, {std::to_string(s)});
        for (const auto& [key, n] : snap.alerts) alerts[key] += n;
    }
    for (std::size_t g = 0; g < globals_.size(); ++g) {
        const auto snap = globals_[g]->published();
        flowguard::write_metrics(sink, snap.counters, kShardCounters, {"global" + std::to_string(g)});
        for (const auto& [key, n] : snap.alerts) alerts[key] += n;
    }
    for (const auto& per_global : forwarders_)
        for (std::size_t s = 0; s < per_global.size(); ++s)
            flowguard::write_metrics(sink, per_global[s]->counters(), kForwardCounters, {std::to_string(s)});
    for (const auto& [key, n] : alerts)
        sink.add("flowguard_alerts_total", {key.first, key.second}, static_cast<double>(n));
}

void LivePipeline::append_metric_specs(std::vector<MetricSpec>& catalog) {
    flowguard::append_metric_specs(catalog, kRoutingCounters, {"receiver"});
    flowguard::append_metric_specs(catalog, kShardCounters, {"shard"});
    flowguard::append_metric_specs(catalog, kForwardCounters, {"shard"});
    catalog.push_back(
        MetricSpec{"flowguard_alerts_total", MetricType::counter, "Alerts raised.", {"kind", "severity"}});
}

}  // namespace flowguard::pipeline
