#pragma once
// Eviction of bounded tables: when a table is full, the entries quiet longest go first, an eighth of the
// table at once, so that the O(n) scan costs O(1) per insertion on average. Used by the meter's flow table
// and the analyzer's series.
#include <algorithm>
#include <cstdint>
#include <vector>

namespace flowguard {

// The last-seen time at or below which about the stalest eighth of `table`'s entries lie. `last_seen` maps an
// entry to its time; `scratch` is reused between calls so eviction does not allocate once warm.
template <typename Table, typename LastSeen>
std::uint64_t stalest_eighth_cutoff(const Table& table, LastSeen last_seen, std::vector<std::uint64_t>& scratch) {
    scratch.clear();
    for (const auto& entry : table) scratch.push_back(last_seen(entry));
    if (scratch.empty()) return 0;
    const auto cut = scratch.begin() + static_cast<std::ptrdiff_t>(scratch.size() / 8);
    std::nth_element(scratch.begin(), cut, scratch.end());
    return *cut;
}

// Erases about the stalest eighth of `table` (a Boost flat map) and returns how many entries went; the caller
// counts them and feeds its ChurnCounter.
template <typename FlatMap, typename LastSeen>
std::size_t erase_stalest_eighth(FlatMap& table, LastSeen last_seen, std::vector<std::uint64_t>& scratch) {
    const std::uint64_t cutoff = stalest_eighth_cutoff(table, last_seen, scratch);
    return erase_if(table, [&](const auto& entry) { return last_seen(entry) <= cutoff; });  // found by ADL
}

}  // namespace flowguard
