#include <flowguard/collector/receive_pacer.hpp>

#include <algorithm>

namespace flowguard::collector {
namespace {

// Kernel memory one queued export datagram takes from the receive buffer (skb truesize): ~2.3 KiB for a
// 1500-byte datagram; counted generously so the target leaves room for bursts above the mean rate.
constexpr std::size_t kBufferBytesPerDatagram = 4096;
// Below this many datagrams expected within the longest nap, napping would batch nothing.
constexpr double kMinDatagramsPerNap = 2.0;

}  // namespace

ReceivePacer::ReceivePacer(std::uint64_t max_nap_ns, std::size_t slots, std::size_t buffer_bytes) noexcept
    : max_nap_ns_(max_nap_ns) {
    // Half of what the slots or the buffer hold: the rate can double during a nap without a drop or a
    // second read.
    burst_target_ = std::max<std::size_t>(1, std::min(slots, buffer_bytes / kBufferBytesPerDatagram) / 2);
}

std::uint64_t ReceivePacer::after_wakeup(std::size_t datagrams, bool slots_filled, std::uint64_t now_ns) noexcept {
    if (window_start_ns_ == 0) window_start_ns_ = now_ns;
    window_datagrams_ += datagrams;
    if (now_ns - window_start_ns_ >= kRateWindowNs) {
        rate_per_ns_ = static_cast<double>(window_datagrams_) / static_cast<double>(now_ns - window_start_ns_);
        window_start_ns_ = now_ns;
        window_datagrams_ = 0;
    }
    if (max_nap_ns_ == 0 || slots_filled) return 0;  // off, or busy: read again at once
    if (rate_per_ns_ * static_cast<double>(max_nap_ns_) < kMinDatagramsPerNap) return 0;  // sparse traffic
    const double nap = static_cast<double>(burst_target_) / rate_per_ns_;
    return std::min(max_nap_ns_, static_cast<std::uint64_t>(nap));
}

}  // namespace flowguard::collector
