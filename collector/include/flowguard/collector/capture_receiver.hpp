#pragma once
// One capture thread of the live pipeline, a source: a live span-port capture (libpcap), metered into one-way
// flows with passive DNS, delivered to the pipeline exactly as a receive thread's records are.
#include <flowguard/collector/config.hpp>
#include <flowguard/collector/packet_capture.hpp>
#include <flowguard/collector/span_meter.hpp>
#include <flowguard/core/stage.hpp>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace flowguard::collector {

// What the capture thread publishes once a second (and at the end) for the metrics and the summary.
struct CaptureSnapshot {
    SpanMeterStats meter;
    CaptureDrops drops;
    std::size_t active_flows = 0;
};

class CaptureReceiver final : public Source {
public:
    CaptureReceiver(const MeterConfig& config, PacketCapture capture);
    CaptureReceiver(const CaptureReceiver&) = delete;
    CaptureReceiver& operator=(const CaptureReceiver&) = delete;

    std::string_view kind() const override { return "capture"; }
    // Captures until `stop` is set (seen within the capture's read timeout), then ends every flow in the
    // table and hands everything over. Call from the capture thread.
    void run(const std::atomic<bool>& stop, RecordSink& sink) override;

    const std::string& interface() const noexcept { return interface_; }
    CaptureSnapshot published() const;

private:
    void hand_over(RecordSink& sink, std::uint64_t now_ns);
    void publish();

    std::string interface_;
    PacketCapture capture_;
    SpanMeter meter_;
    std::vector<FlowRecord> metered_;
    std::vector<DnsEvent> dns_events_;
    mutable std::mutex published_mutex_;
    CaptureSnapshot published_;
};

// Opens the live captures of meter.interface: meter.capture_threads of them, which share the interface through
// one PACKET_FANOUT group (hash of the flow) when there are several. Throws std::runtime_error naming the
// interface (no such device, no CAP_NET_RAW).
std::vector<PacketCapture> open_live_captures(const MeterConfig& meter);

}  // namespace flowguard::collector
