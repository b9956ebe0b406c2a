#pragma once
// The live pipeline of `collect`, `run` and `meter -i`: producer threads (sources: UDP receivers, span-port
// captures) hand record and DNS batches over lock-free SPSC channels, one per (producer, shard), to shard
// threads that run the stages. Topology: every producer reaches every shard; a record goes to the shard of its
// internal host (ShardRouter). No record ever passes a lock; a full shard costs counted drops, never a wait.
// Global stages (the host graph) run on threads of their own (fg-global-N), fed by a Forwarder on every shard.
#include <flowguard/core/counters.hpp>
#include <flowguard/core/flow_batch.hpp>
#include <flowguard/core/network_set.hpp>
#include <flowguard/core/stage.hpp>
#include <flowguard/pipeline/forwarder.hpp>
#include <flowguard/pipeline/routing.hpp>
#include <flowguard/pipeline/shard.hpp>

#include <boost/json/object.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace flowguard::pipeline {

// A configured thread count, or one per core for 0.
std::size_t or_cores(std::size_t configured);

struct LiveOptions {
    std::size_t shards = 1;
    std::size_t batches_per_channel = 64;  // per (producer, shard) channel; DNS channels get a quarter
    NetworkSet internal_networks = NetworkSet::private_networks();
};

class LivePipeline {
public:
    // One shard's stages; called once per shard, in the constructor.
    using StageFactory = std::function<std::vector<std::unique_ptr<Stage>>(std::size_t shard)>;

    LivePipeline(const LiveOptions& options, std::vector<std::unique_ptr<Source>> sources,
                 const StageFactory& make_stages, std::vector<AlertSink*> alert_sinks,
                 std::vector<std::unique_ptr<GlobalStage>> global_stages = {});
    ~LivePipeline();  // stop_and_drain()
    LivePipeline(const LivePipeline&) = delete;
    LivePipeline& operator=(const LivePipeline&) = delete;

    // Starts the threads: global stages fg-global-N, shards fg-shard-N, producers fg-<kind>-N (fg-recv-0,
    // fg-capture-0).
    void start();
    // Producers stop and hand over what they hold, then the shards empty every ring and finish their stages
    // (their forwarders hand over the last records), then the global stages drain and finish.
    void stop_and_drain();

    std::size_t shard_count() const noexcept { return shards_.size(); }
    std::size_t producer_count() const noexcept { return sources_.size(); }
    const Shard& shard(std::size_t index) const { return *shards_[index]; }
    std::size_t global_count() const noexcept { return globals_.size(); }
    // The global stage N runs as a shard of one stage whose inputs are the forwarders' channels.
    const Shard& global(std::size_t index) const { return *globals_[index]; }
    const Source& source(std::size_t index) const { return *sources_[index]; }
    // The label of a producer in flowguard_ring_drops_total: "0", "1" for receive threads, "capture0" for
    // span-port capture threads.
    const std::string& producer_label(std::size_t index) const { return labels_[index]; }

    // Stop summary: ring_drops, dns_drops, records_delivered, dns_events (and with global stages
    // global_forwarded, global_forward_drops).
    void summarize(boost::json::object& summary) const;
    // Ring drops per producer, queue depth and records per shard, alerts by kind and severity.
    void write_metrics(MetricSink& sink) const;
    static void append_metric_specs(std::vector<MetricSpec>& catalog);

private:
    std::vector<std::unique_ptr<Source>> sources_;
    std::vector<std::string> labels_;                                   // [producer] in metrics
    std::vector<std::string> thread_names_;                             // [producer]
    std::vector<std::vector<std::unique_ptr<BatchChannel>>> channels_;  // [producer][shard]
    std::vector<std::vector<std::unique_ptr<DnsChannel>>> dns_channels_;
    std::vector<std::unique_ptr<ShardRouting>> routings_;  // [producer]
    std::vector<std::unique_ptr<Shard>> shards_;
    std::vector<std::vector<std::unique_ptr<BatchChannel>>> global_channels_;  // [global][shard]
    std::vector<std::vector<const Forwarder*>> forwarders_;                    // [global][shard], owned by shards
    std::vector<std::unique_ptr<Shard>> globals_;
    std::atomic<bool> stop_producing_{false};
    std::atomic<bool> producers_done_{false};
    std::atomic<bool> shards_done_{false};
    std::vector<std::thread> shard_threads_;
    std::vector<std::thread> global_threads_;
    std::vector<std::thread> producer_threads_;
    bool stopped_ = false;
};

}  // namespace flowguard::pipeline
