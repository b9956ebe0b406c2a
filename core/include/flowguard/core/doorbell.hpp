#pragma once
// Lets producers cut a consumer's nap short when it falls behind, without ever blocking them.
//
// Shard threads nap on a timer between drains: on virtual machines every wake-up costs several
// microseconds, so the fewer the better, and a long nap is what keeps the shards cheap at the rates
// exporters send. What keeps a long nap from overflowing a channel is the doorbell: a producer that finds
// its channel filling rings it, and the consumer wakes at once. A ring only costs a futex wake when the
// consumer is actually asleep; otherwise it is one atomic load. A ring that comes just before the consumer
// falls asleep is not stored, but the producer's next hand-over rings again.
#include <atomic>
#include <chrono>
#include <cstdint>

namespace flowguard {

class Doorbell {
public:
    // Consumer: sleeps until `timeout` has passed or a producer rings, whichever comes first. True when a
    // ring ended the nap.
    bool nap(std::chrono::nanoseconds timeout) noexcept;

    // Producer: wakes the consumer if it is napping. Never blocks.
    void ring() noexcept {
        std::atomic_ref<std::uint32_t> state(state_);
        std::uint32_t napping = kNapping;
        if (state.load(std::memory_order_seq_cst) == kNapping &&
            state.compare_exchange_strong(napping, kRung, std::memory_order_seq_cst))
            wake();
    }

    // True while the consumer naps (for tests).
    bool napping() const noexcept {
        return std::atomic_ref<const std::uint32_t>(state_).load(std::memory_order_seq_cst) == kNapping;
    }

    // How often a ring woke the consumer.
    std::uint64_t wakes() const noexcept { return wakes_.load(std::memory_order_relaxed); }

private:
    static constexpr std::uint32_t kAwake = 0;
    static constexpr std::uint32_t kNapping = 1;
    static constexpr std::uint32_t kRung = 2;

    void wake() noexcept;

    // The futex word, only ever accessed through std::atomic_ref (the kernel needs its plain address).
    alignas(std::atomic_ref<std::uint32_t>::required_alignment) std::uint32_t state_ = kAwake;
    std::atomic<std::uint64_t> wakes_{0};
};

}  // namespace flowguard
