#pragma once
// The wall clock in nanoseconds since the Unix epoch: the clock of receive times, batch ages, live flow
// expiry and metric publication (CLOCK_REALTIME through the vDSO: no system call).
#include <cstdint>
#include <ctime>

namespace flowguard {

inline constexpr std::uint64_t kSecondNs = 1'000'000'000ull;

inline std::uint64_t wall_clock_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace flowguard
