#pragma once
// How long a receive thread naps after a recvmmsg burst that did not fill its slots.
//
// Without a nap, a receive thread is woken for every few datagrams: at 25k datagrams/s the wake-ups (a
// context switch each) cost more CPU than decoding. Napping lets datagrams gather in the socket buffer so
// that one wake-up reads many: the interrupt moderation of a NIC, done in user space. The nap follows the
// arrival rate: long enough for about `burst_target` datagrams to arrive, never longer than `max_nap_ns`
// (the latency it may add), none while bursts come back full (the thread is busy anyway), and none for
// sparse traffic, where it would batch nothing. `burst_target` is half of what the recvmmsg slots and the
// socket's receive buffer hold, so the rate can double during a nap before either would overflow.
#include <cstddef>
#include <cstdint>

namespace flowguard::collector {

class ReceivePacer {
public:
    // The arrival rate is measured over windows of this length.
    static constexpr std::uint64_t kRateWindowNs = 10'000'000;

    // `slots`: datagrams per recvmmsg call; `buffer_bytes`: the smallest receive buffer the kernel granted
    // (as SO_RCVBUF reports it); `max_nap_ns` = 0 turns napping off.
    ReceivePacer(std::uint64_t max_nap_ns, std::size_t slots, std::size_t buffer_bytes) noexcept;

    // After a wake-up that read `datagrams` by `now_ns` (`slots_filled`: the last read filled every slot,
    // more is waiting): the nap before the next read, in ns (0 = read now).
    std::uint64_t after_wakeup(std::size_t datagrams, bool slots_filled, std::uint64_t now_ns) noexcept;

    double rate_per_second() const noexcept { return rate_per_ns_ * 1e9; }
    std::size_t burst_target() const noexcept { return burst_target_; }

private:
    std::uint64_t max_nap_ns_;
    std::size_t burst_target_;
    std::uint64_t window_start_ns_ = 0;
    std::uint64_t window_datagrams_ = 0;
    double rate_per_ns_ = 0.0;
};

}  // namespace flowguard::collector
