#pragma once
// The live pipeline shared by `flowguard collect` and `flowguard run`: N receive threads (one SO_REUSEPORT
// socket per listener each, recvmmsg, decode in place) and K span-port capture threads (libpcap, metered
// into flows, passive DNS) hand record and DNS batches over lock-free SPSC channels to M shard threads,
// which write records, run the detectors and count traffic for the metrics.
#include "shard_worker.hpp"
#include "summary.hpp"

#include <flowguard/analyzer/analyzer.hpp>
#include <flowguard/collector/capture_receiver.hpp>
#include <flowguard/collector/udp_receiver.hpp>
#include <flowguard/exporters/traffic_stats.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace flowguard::app {

std::size_t or_cores(std::size_t configured);

struct Pipeline {
    // [producer][shard]: receive threads first, then capture threads. DNS channels exist only when the
    // shards run detectors (nothing else reads DNS events).
    std::vector<std::vector<std::unique_ptr<BatchChannel>>> channels;
    std::vector<std::vector<std::unique_ptr<DnsChannel>>> dns_channels;
    std::vector<std::unique_ptr<collector::UdpReceiver>> receivers;
    std::vector<std::unique_ptr<collector::CaptureReceiver>> captures;
    std::vector<std::unique_ptr<ShardWorker>> shards;

    std::vector<const collector::FlowDecoder*> decoders() const;
    PipelineCounters counters() const;
    collector::CaptureSnapshot capture_totals() const;  // over every capture thread, as last published
};

// Detectors for live collection: one Analyzer per shard, alerts as JSON lines to their own sink.
struct LiveAnalysis {
    std::optional<analyzer::PublicSuffixList> suffixes;
    std::unique_ptr<ListUpdates> lists;
    std::unique_ptr<LineSink> sink;
    std::unique_ptr<exporters::WebhookDispatcher> webhooks;  // null without alerts.webhooks
    int fd = -1;
};

// The shipped SUNBURST indicators + config.ioc_files, and the beacon allow-lists. Throws naming file:line.
std::shared_ptr<const AnalyzerLists> load_lists(const AnalyzerConfig& config);

// `analysis` (may be null) adds detectors to every shard, `applications` (may be null) traffic counting.
// Receive threads are made only when there are UDP listeners, capture threads only when meter.interface is
// set; opening the capture throws std::runtime_error naming the interface (no such device, no CAP_NET_RAW).
Pipeline build_pipeline(const Config& config, LineSink& sink, LiveAnalysis* analysis,
                        const exporters::ApplicationMap* applications);

// Runs receivers and shards until `stop_requested` returns (the caller's event loop), then drains them.
class PipelineThreads {
public:
    explicit PipelineThreads(Pipeline& pipeline);
    void stop_and_drain();  // receivers read what the kernel holds, then shards empty every ring
    ~PipelineThreads();

private:
    Pipeline& pipeline_;
    std::atomic<bool> stop_receiving_{false};
    std::atomic<bool> receivers_done_{false};
    std::vector<std::thread> shard_threads_;
    std::vector<std::thread> receive_threads_;  // and capture threads
};

}  // namespace flowguard::app
