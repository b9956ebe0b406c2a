#pragma once
// The live pipeline shared by `flowguard collect` and `flowguard run`: N receive threads (one SO_REUSEPORT
// socket per listener each, recvmmsg, decode in place) hand record batches over lock-free SPSC channels to
// M shard threads, which write records, run the detectors and count traffic for the metrics.
#include "shard_worker.hpp"
#include "summary.hpp"

#include <flowguard/analyzer/analyzer.hpp>
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
    std::vector<std::vector<std::unique_ptr<BatchChannel>>> channels;  // [receiver][shard]
    std::vector<std::unique_ptr<collector::UdpReceiver>> receivers;
    std::vector<std::unique_ptr<ShardWorker>> shards;

    std::vector<const collector::FlowDecoder*> decoders() const;
    PipelineCounters counters() const;
};

// Detectors for live collection: one Analyzer per shard, alerts as JSON lines to their own sink.
struct LiveAnalysis {
    std::optional<analyzer::PublicSuffixList> suffixes;
    std::unique_ptr<IocUpdates> iocs;
    std::unique_ptr<LineSink> sink;
    int fd = -1;
};

std::shared_ptr<const analyzer::IocList> load_iocs(const AnalyzerConfig& config);  // throws naming file:line

// `analysis` (may be null) adds detectors to every shard, `applications` (may be null) traffic counting.
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
    std::vector<std::thread> receive_threads_;
};

}  // namespace flowguard::app
