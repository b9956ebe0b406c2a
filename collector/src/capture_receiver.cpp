#include <flowguard/collector/capture_receiver.hpp>
#include <flowguard/core/clock.hpp>

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>

namespace flowguard::collector {
namespace {}  // namespace

CaptureReceiver::CaptureReceiver(const MeterConfig& config, PacketCapture capture)
    : interface_(config.interface), capture_(std::move(capture)), meter_(config, IpAddress{}) {
    metered_.reserve(1024);
    dns_events_.reserve(64);
}

void CaptureReceiver::hand_over(RecordSink& sink, std::uint64_t now_ns) {
    if (!metered_.empty() || !dns_events_.empty()) sink.deliver(dns_events_, metered_, now_ns);
    metered_.clear();
    dns_events_.clear();
}

void CaptureReceiver::publish() {
    CaptureSnapshot snap;  // built outside the lock
    snap.meter = meter_.stats();
    snap.drops = capture_.drops();
    snap.active_flows = meter_.active_flows();
    std::lock_guard lock(published_mutex_);
    published_ = snap;
}

CaptureSnapshot CaptureReceiver::published() const {
    std::lock_guard lock(published_mutex_);
    return published_;
}

void CaptureReceiver::run(const std::atomic<bool>& stop, RecordSink& sink) {
    RawPacket packet;
    std::uint64_t next_second = 0;
    const bool dns = sink.wants_dns();
    while (!stop.load(std::memory_order_acquire)) {
        const auto read = capture_.next(packet);
        if (read == PacketCapture::Read::end) break;
        if (read == PacketCapture::Read::error) {
            spdlog::error("capture stopped: {}", capture_.error());  // e.g. the interface went away
            break;
        }
        if (read == PacketCapture::Read::packet) meter_.process(capture_.link_type(), packet, metered_, dns_events_);
        if (!dns) dns_events_.clear();  // nothing reads them
        const auto now = wall_clock_ns();
        if (now >= next_second) {
            // Quiet links still need their flows to time out: the table is swept on the wall clock too.
            meter_.expire(now, metered_);
            publish();
            next_second = now + kSecondNs;
        }
        hand_over(sink, now);
        sink.tick(now);
    }
    meter_.flush(metered_);  // stop: every flow still in the table is reported
    hand_over(sink, wall_clock_ns());
    sink.tick(UINT64_MAX);
    publish();
}

std::vector<PacketCapture> open_live_captures(const MeterConfig& meter) {
    std::vector<PacketCapture> captures;
    const std::size_t threads = std::max<std::size_t>(1, meter.capture_threads);
    const int fanout = threads > 1 ? static_cast<int>(::getpid() & 0xffff) : -1;
    for (std::size_t i = 0; i < threads; ++i) {
        LiveCaptureOptions live{
            meter.interface, meter.bpf_filter, meter.snaplen, meter.promiscuous, meter.buffer_size, fanout, 100};
        captures.push_back(PacketCapture::open_live(live));
    }
    return captures;
}

}  // namespace flowguard::collector
