#pragma once
// Counters written by one thread and read by others (metrics, summaries): the writer adds with a plain
// relaxed load and store, no locked instruction on the hot path; readers load relaxed.
#include <atomic>
#include <cstdint>

namespace flowguard {

inline void add_single_writer(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace flowguard
