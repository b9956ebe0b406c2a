#pragma once
// Repeated failures (a full disk, a database that is down, a stream of datagrams that are no flow export) are
// logged at once, then at most once a minute of the caller's clock while they last; the lines carry counts so
// nothing in between goes unsaid. A recovery is worth a line only when the failure was logged.
#include <cstdint>

namespace flowguard {

class LogThrottle {
public:
    static constexpr std::uint64_t kEveryNs = 60'000'000'000ull;

    // True when a line may be logged at `now_ns` (the first time, or a minute after the last one); notes it.
    bool due(std::uint64_t now_ns) noexcept {
        if (logged_ && now_ns < last_ns_ + kEveryNs) return false;
        logged_ = true;
        last_ns_ = now_ns;
        return true;
    }
    // Whether a line was logged since the last reset().
    bool logged() const noexcept { return logged_; }
    // The failure is over: the next one is logged at once.
    void reset() noexcept { logged_ = false; }

private:
    std::uint64_t last_ns_ = 0;
    bool logged_ = false;
};

}  // namespace flowguard
