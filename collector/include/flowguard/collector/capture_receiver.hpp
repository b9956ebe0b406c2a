#pragma once
// One capture thread of the pipeline: a live span-port capture (libpcap), metered into one-way flows with
// passive DNS, whose records and DNS events are routed to the shards exactly like a receive thread's. It
// never blocks on a shard: what a full shard cannot take is dropped and counted.
#include <flowguard/collector/packet_capture.hpp>
#include <flowguard/collector/shard_router.hpp>
#include <flowguard/collector/span_meter.hpp>
#include <flowguard/core/config.hpp>
#include <flowguard/core/flow_batch.hpp>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace flowguard::collector {

// Written by the capture thread only; readable from any thread.
// (What was metered is in the published SpanMeterStats; these are the hand-over losses.)
struct CaptureCounters {
    std::atomic<std::uint64_t> ring_drops{0};  // flow records a full shard could not take
    std::atomic<std::uint64_t> dns_drops{0};   // DNS events a full shard could not take
};

// What the capture thread publishes once a second (and at the end) for the metrics and the summary.
struct CaptureSnapshot {
    SpanMeterStats meter;
    CaptureDrops drops;
    std::size_t active_flows = 0;
};

class CaptureReceiver {
public:
    // `flow_channels[s]` / `dns_channels[s]` carry to shard s; no DNS channels = DNS events are not routed.
    CaptureReceiver(const MeterConfig& config, PacketCapture capture, ShardRouter router,
                    std::vector<BatchChannel*> flow_channels, std::vector<DnsChannel*> dns_channels);
    CaptureReceiver(const CaptureReceiver&) = delete;
    CaptureReceiver& operator=(const CaptureReceiver&) = delete;

    // Captures until `stop` is set (seen within the capture's read timeout), then ends every flow in the
    // table and hands everything over. Call from the capture thread.
    void run(const std::atomic<bool>& stop);

    const std::string& interface() const noexcept { return interface_; }
    const CaptureCounters& counters() const noexcept { return counters_; }
    CaptureSnapshot published() const;

private:
    void route(std::uint64_t now_ns);
    void publish();

    std::string interface_;
    PacketCapture capture_;
    SpanMeter meter_;
    ShardRouter router_;
    ShardBatcher<FlowBatch> flows_;
    ShardBatcher<DnsBatch> dns_;
    bool route_dns_;
    std::vector<FlowRecord> metered_;
    std::vector<DnsEvent> dns_events_;
    CaptureCounters counters_;
    mutable std::mutex published_mutex_;
    CaptureSnapshot published_;
};

}  // namespace flowguard::collector
