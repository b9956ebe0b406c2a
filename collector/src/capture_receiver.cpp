#include <flowguard/collector/capture_receiver.hpp>
#include <flowguard/core/clock.hpp>
#include <flowguard/core/counter.hpp>

namespace flowguard::collector {
namespace {

constexpr std::uint64_t kSecondNs = 1'000'000'000;

}  // namespace

CaptureReceiver::CaptureReceiver(const MeterConfig& config, PacketCapture capture, ShardRouter router,
                                 std::vector<BatchChannel*> flow_channels, std::vector<DnsChannel*> dns_channels)
    : interface_(config.interface),
      capture_(std::move(capture)),
      meter_(config, IpAddress{}),
      router_(std::move(router)),
      flows_(std::move(flow_channels)),
      dns_(std::move(dns_channels)),
      route_dns_(!dns_.empty()) {
    metered_.reserve(1024);
    dns_events_.reserve(64);
}

void CaptureReceiver::route(std::uint64_t now_ns) {
    std::uint64_t dropped = 0;
    for (const auto& r : metered_)
        if (!flows_.add(router_.shard_of(r), r, now_ns)) ++dropped;
    if (dropped) add_single_writer(counters_.ring_drops, dropped);
    metered_.clear();
    if (route_dns_) {
        dropped = 0;
        for (const auto& e : dns_events_)
            if (!dns_.add(router_.shard_of(e), e, now_ns)) ++dropped;
        if (dropped) add_single_writer(counters_.dns_drops, dropped);
    }
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

void CaptureReceiver::run(const std::atomic<bool>& stop) {
    RawPacket packet;
    std::uint64_t next_second = 0;
    while (!stop.load(std::memory_order_acquire)) {
        const auto read = capture_.next(packet);
        if (read == PacketCapture::Read::end) break;
        if (read == PacketCapture::Read::packet) meter_.process(capture_.link_type(), packet, metered_, dns_events_);
        const auto now = wall_clock_ns();
        if (now >= next_second) {
            // Quiet links still need their flows to time out: the table is swept on the wall clock too.
            meter_.expire(now, metered_);
            publish();
            next_second = now + kSecondNs;
        }
        route(now);
        flows_.hand_over(now - kMaxBatchAgeNs);
        dns_.hand_over(now - kMaxBatchAgeNs);
    }
    meter_.flush(metered_);  // stop: every flow still in the table is reported
    route(wall_clock_ns());
    flows_.hand_over(UINT64_MAX);
    dns_.hand_over(UINT64_MAX);
    publish();
}

}  // namespace flowguard::collector
