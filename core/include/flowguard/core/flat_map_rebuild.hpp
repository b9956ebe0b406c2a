#pragma once
// Boost 1.81's flat maps keep a group's overflow marks after erasures until the table is rebuilt (later
// releases added an anti-drift rule), so a long-lived table with insert/erase churn drifts into long probe
// sequences. rehash() to the same capacity is a no-op, so a table is rebuilt by moving its elements into a
// fresh one; callers do it after erasing about as many elements as the table holds (amortised O(1)).
#include <cstddef>
#include <iterator>
#include <utility>

namespace flowguard {

template <typename FlatMap>
void rebuild_flat_map(FlatMap& map) {
    FlatMap fresh;
    fresh.reserve(map.size());
    for (auto& kv : map) fresh.emplace(kv.first, std::move(kv.second));
    map.swap(fresh);
}

// Counts erasures and rebuilds once they reach the table's size (at least `floor`).
class ChurnCounter {
public:
    explicit ChurnCounter(std::size_t floor = 1024) : floor_(floor) {}
    template <typename FlatMap>
    void erased(FlatMap& map, std::size_t n = 1) {
        erased_ += n;
        if (erased_ < floor_ || erased_ < map.size()) return;
        rebuild_flat_map(map);
        erased_ = 0;
        ++rebuilds_;
    }
    std::size_t rebuilds() const noexcept { return rebuilds_; }

private:
    std::size_t floor_;
    std::size_t erased_ = 0;
    std::size_t rebuilds_ = 0;
};

}  // namespace flowguard
