#pragma once
// Capture files (pcap/pcapng) as a pipeline source, read in the order given. What a packet is depends on the
// command:
// - exports (`decode`): each UDP datagram is a flow export, decoded; the files are one stream (a template in
//   the first serves data in the next, as on the wire); `port` keeps only datagrams to that port.
// - traffic (`meter`): each packet is metered into one-way flows with passive DNS; the files are one capture
//   (a flow that spans two files stays one flow); `bpf_filter` applies.
// - mixed (`analyze`): packet by packet, a flow export is decoded and anything else metered.
// Capture time is the clock. Output is gathered into batches (OrderedBatch) in packet order.
#include <flowguard/collector/config.hpp>
#include <flowguard/collector/flow_decoder.hpp>
#include <flowguard/collector/pcap_datagrams.hpp>
#include <flowguard/collector/span_meter.hpp>
#include <flowguard/core/counters.hpp>
#include <flowguard/core/stage.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace flowguard {
class OrderedBatch;
}

namespace flowguard::collector {

enum class CaptureContent { exports, traffic, mixed };

struct CaptureFileCounters {
    std::uint64_t packets = 0;           // packets read (mixed)
    std::uint64_t export_datagrams = 0;  // of which flow exports, decoded (mixed)
    std::uint64_t skipped_by_port = 0;   // datagrams to another port than asked (exports)
    std::uint64_t damaged_files = 0;     // cut short or damaged: read up to the damage, and logged
};

inline constexpr CounterTable<CaptureFileCounters, 3> kMixedCaptureCounters{{
    {"packets", counter_ref<&CaptureFileCounters::packets>},
    {"export_datagrams", counter_ref<&CaptureFileCounters::export_datagrams>},
    {"damaged_files", counter_ref<&CaptureFileCounters::damaged_files>},
}};

struct CaptureFileOptions {
    CaptureContent content = CaptureContent::exports;
    std::optional<std::uint16_t> port;  // exports: only datagrams to this UDP port
    // Called every 2^20 packets and at the end of each file (final = true): `analyze` shows progress on a
    // terminal. (path, file index, file count, packets so far, final)
    std::function<void(const std::string&, std::size_t, std::size_t, std::uint64_t, bool)> progress;
};

class CaptureFileSource final : public Source {
public:
    // Counts into `counters` (several sources of one `analyze` share them).
    CaptureFileSource(std::vector<std::string> paths, const CollectorConfig& collector, const MeterConfig& meter,
                      CaptureFileOptions options, CaptureFileCounters& counters);
    ~CaptureFileSource() override;

    std::string_view kind() const override { return "file"; }
    // Reads every file; a file that cannot be opened is logged and skipped, one that is cut short or damaged
    // read up to the damage and logged (failed() says so for both).
    void run(const std::atomic<bool>& stop, RecordSink& sink) override;

    bool failed() const noexcept { return failed_; }
    const CaptureStats& capture_stats() const noexcept { return capture_stats_; }               // exports
    const FlowDecoder& decoder() const noexcept { return *decoder_; }                           // exports, mixed
    SpanMeterStats meter_stats() const { return meter_ ? meter_->stats() : SpanMeterStats{}; }  // traffic, mixed

private:
    void read_exports(const std::string& path, const std::atomic<bool>& stop, OrderedBatch& batch);
    void read_packets(const std::string& path, std::size_t index, const std::atomic<bool>& stop, OrderedBatch& batch);
    void cut_short(const std::string& path, const std::string& reason, std::uint64_t packets);
    void classify(int link, const RawPacket& raw, const std::string& path, std::size_t index,
                  std::vector<FlowRecord>& flows);

    std::vector<std::string> paths_;
    CollectorConfig collector_config_;
    MeterConfig meter_config_;
    CaptureFileOptions options_;
    std::unique_ptr<FlowDecoder> decoder_;
    std::unique_ptr<SpanMeter> meter_;
    std::vector<DnsEvent> dns_;
    CaptureFileCounters& counters_;
    CaptureStats capture_stats_;
    std::uint64_t clock_ns_ = 0;
    bool failed_ = false;
};

}  // namespace flowguard::collector
