#pragma once
// Boost 1.81's flat maps keep a group's overflow marks after erasures until the table is rebuilt (later
// releases added an anti-drift rule), so probe sequences lengthen with insert/erase churn. Measured
// (bench/churn_bench --raw-map, 1 M entries, one erase + one insert per operation): the drift levels off,
// 53 ns per operation at first, 66-77 ns from 10 M to 100 M operations; a rebuild after as many erasures as
// the table holds made it 170-185 ns, the fresh arrays' first touch (page faults: glibc returns large blocks
// to the kernel) costing more than the drift. So tables churned entry by entry on the hot path (the meter's
// flows, first sightings) are not rebuilt; tables erased in bulk (evictions of an eighth, hourly maintenance,
// flood sweeps) are, where a rebuild is small beside the pass that erased.
//
// rehash() to the same capacity is a no-op, so a table is rebuilt by moving its elements into a fresh one of
// the same capacity (a table reserved up front stays so), after about as many erasures as it holds.
#include <cstddef>
#include <iterator>
#include <utility>

namespace flowguard {

template <typename FlatMap>
void rebuild_flat_map(FlatMap& map) {
    FlatMap fresh;
    fresh.rehash(map.bucket_count());
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
