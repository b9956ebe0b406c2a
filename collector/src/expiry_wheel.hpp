#pragma once
// Private: when each flow of the meter is next due to be looked at, in one-second slots of packet time, so a
// timeout sweep costs what is due, not the size of the table. Scanning the whole flow table every second of
// packet time cost ~1 µs per packet on captures whose packets are seconds apart (an office capture, the same
// traffic replayed days apart): nearly every packet started a sweep of a mostly empty table.
//
// A flow has one live entry (its armed deadline, also kept in the flow); an entry whose deadline no longer
// matches its flow's is stale and dropped when reached. Deadlines only need to be no later than the flow's
// real one: the caller looks at the flow when the entry comes due and arms it again if it is not yet over.
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace flowguard::collector {

template <typename Key>
class ExpiryWheel {
public:
    struct Entry {
        std::uint64_t deadline_ns;
        Key key;
    };

    // `horizon_ns`: the farthest a deadline is armed ahead of the clock (the longest timeout); farther ones are
    // kept in the last slot of the ring and come due early, which costs a re-arm, never a missed timeout.
    explicit ExpiryWheel(std::uint64_t horizon_ns)
        : slots_(std::bit_ceil(std::clamp<std::uint64_t>(horizon_ns / kSlotNs + 2, 4, kMaxSlots))),
          mask_(slots_.size() - 1) {}

    // Arms `key` at `deadline_ns` (not before the slot being processed: a late deadline comes due at once).
    void arm(std::uint64_t deadline_ns, const Key& key) {
        if (cursor_s_ == 0) cursor_s_ = deadline_ns / kSlotNs - std::min(deadline_ns / kSlotNs, mask_ - 1);
        std::uint64_t slot = std::max(deadline_ns / kSlotNs, cursor_s_);
        slot = std::min(slot, cursor_s_ + mask_);
        slots_[slot & mask_].push_back(Entry{deadline_ns, key});
        ++size_;
    }

    // Hands every entry with deadline <= now_ns to `due(entry)` (in slot order), which may arm new entries.
    template <typename Due>
    void advance(std::uint64_t now_ns, Due&& due) {
        const std::uint64_t now_s = now_ns / kSlotNs;
        if (now_s < cursor_s_) return;  // the clock went back (a live clock adjusted): nothing new is due
        const std::uint64_t span = std::min<std::uint64_t>(now_s - cursor_s_, mask_);
        // Due entries are taken out first and handed out after the pass, so what `due` arms lands in a slot
        // at or after the new cursor.
        for (std::uint64_t s = cursor_s_; s <= cursor_s_ + span; ++s) take_due(slots_[s & mask_], now_ns);
        cursor_s_ = now_s;
        for (const Entry& e : due_) due(e);
        due_.clear();
    }

    // Drops the entries `live(entry)` refuses: stale ones pile up when flows end early (table pressure, FIN)
    // faster than their deadlines come.
    template <typename Live>
    void drop_stale(Live&& live) {
        size_ = 0;
        for (auto& slot : slots_) {
            std::erase_if(slot, [&](const Entry& e) { return !live(e); });
            size_ += slot.size();
        }
    }

    void clear() {
        for (auto& slot : slots_) slot.clear();
        size_ = 0;
    }
    std::size_t size() const noexcept { return size_; }  // live and stale entries

private:
    static constexpr std::uint64_t kSlotNs = 1'000'000'000;
    static constexpr std::uint64_t kMaxSlots = 1u << 16;  // 18 h of one-second slots

    void take_due(std::vector<Entry>& slot, std::uint64_t now_ns) {
        const auto kept =
            std::partition(slot.begin(), slot.end(), [now_ns](const Entry& e) { return e.deadline_ns > now_ns; });
        due_.insert(due_.end(), kept, slot.end());
        size_ -= static_cast<std::size_t>(slot.end() - kept);
        slot.erase(kept, slot.end());
    }

    std::vector<std::vector<Entry>> slots_;
    std::uint64_t mask_;
    std::uint64_t cursor_s_ = 0;  // the second processed last (0: none yet); slots before it are empty
    std::vector<Entry> due_;      // taken from the slots, handed out after the pass
    std::size_t size_ = 0;
};

}  // namespace flowguard::collector
