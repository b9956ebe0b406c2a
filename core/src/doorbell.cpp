#include <flowguard/core/doorbell.hpp>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ctime>

namespace flowguard {
namespace {

long futex(std::uint32_t& word, int op, std::uint32_t value, const timespec* timeout) noexcept {
    return ::syscall(SYS_futex, &word, op, value, timeout, nullptr, 0);
}

}  // namespace

bool Doorbell::nap(std::chrono::nanoseconds timeout) noexcept {
    std::atomic_ref<std::uint32_t> state(state_);
    state.store(kNapping, std::memory_order_seq_cst);
    const auto ns = timeout.count() < 0 ? 0 : timeout.count();
    const timespec relative{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    // Returns at once if a producer rang in between (the word is no longer kNapping); EINTR and spurious
    // wake-ups only shorten the nap.
    futex(state_, FUTEX_WAIT_PRIVATE, kNapping, &relative);
    return state.exchange(kAwake, std::memory_order_seq_cst) == kRung;
}

void Doorbell::wake() noexcept {
    wakes_.fetch_add(1, std::memory_order_relaxed);
    futex(state_, FUTEX_WAKE_PRIVATE, 1, nullptr);
}

}  // namespace flowguard
