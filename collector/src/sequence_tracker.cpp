#include <flowguard/collector/sequence_tracker.hpp>

#include <algorithm>

namespace flowguard::collector {

SequenceTracker::Outcome SequenceTracker::observe(std::uint32_t sequence, std::uint32_t units) {
    if (!started_) {
        reset(sequence, units);
        return Outcome::first;
    }
    // Serial-number arithmetic (RFC 1982 style): the difference is taken modulo 2^32.
    const auto diff = static_cast<std::int32_t>(sequence - expected_);
    if (resync_pending_ && diff >= 0 && static_cast<std::uint32_t>(diff) <= max_forward_) {
        // The previous packet's unit count was unknown: whatever it held, this one continues it.
        resync_pending_ = false;
        expected_ = sequence + units;
        remember(sequence);
        return Outcome::in_order;
    }
    resync_pending_ = false;
    if (diff == 0) {
        expected_ += units;
        remember(sequence);
        return Outcome::in_order;
    }
    if (diff > 0 && static_cast<std::uint32_t>(diff) <= max_forward_) {
        add_gap(expected_, static_cast<std::uint32_t>(diff));
        counters_.lost += static_cast<std::uint32_t>(diff);
        expected_ = sequence + units;
        remember(sequence);
        return Outcome::gap;
    }
    if (diff < 0 && static_cast<std::uint32_t>(-static_cast<std::int64_t>(diff)) <= late_window_) {
        if (seen_recently(sequence)) {
            ++counters_.duplicate;
            return Outcome::duplicate;
        }
        const auto filled = fill_gap(sequence, units);
        counters_.lost -= std::min<std::uint64_t>(filled, counters_.lost);
        ++counters_.reordered;
        remember(sequence);
        return Outcome::reordered;
    }
    ++counters_.restarts;
    reset(sequence, units);
    return Outcome::restart;
}

void SequenceTracker::restart(std::uint32_t sequence, std::uint32_t units) {
    ++counters_.restarts;
    reset(sequence, units);
}

void SequenceTracker::resync(std::uint32_t sequence) {
    if (!started_) started_ = true;
    // The next packet's own sequence tells how many units this one had.
    expected_ = sequence;
    remember(sequence);
    resync_pending_ = true;
}

void SequenceTracker::reset(std::uint32_t sequence, std::uint32_t units) {
    started_ = true;
    resync_pending_ = false;
    expected_ = sequence + units;
    gaps_ = {};
    recent_count_ = 0;
    recent_next_ = 0;
    remember(sequence);
}

void SequenceTracker::remember(std::uint32_t sequence) {
    recent_[recent_next_] = sequence;
    recent_next_ = (recent_next_ + 1) % kRecent;
    recent_count_ = std::min(recent_count_ + 1, kRecent);
}

bool SequenceTracker::seen_recently(std::uint32_t sequence) const {
    for (std::size_t i = 0; i < recent_count_; ++i)
        if (recent_[i] == sequence) return true;
    return false;
}

void SequenceTracker::add_gap(std::uint32_t start, std::uint32_t length) {
    // Replace a free slot, else the oldest-starting gap: a bounded memory of where loss may still be undone.
    auto* slot = std::find_if(gaps_.begin(), gaps_.end(), [](const Gap& g) { return g.length == 0; });
    if (slot == gaps_.end()) {
        slot = std::min_element(gaps_.begin(), gaps_.end(), [this](const Gap& a, const Gap& b) {
            return (expected_ - a.start) > (expected_ - b.start);
        });
    }
    *slot = Gap{start, length};
}

std::uint32_t SequenceTracker::fill_gap(std::uint32_t sequence, std::uint32_t units) {
    for (auto& g : gaps_) {
        if (g.length == 0) continue;
        const std::uint32_t offset = sequence - g.start;
        if (offset >= g.length) continue;
        const std::uint32_t take = std::min(units, g.length - offset);
        // Split the gap around the part this late packet covers.
        const Gap before{g.start, offset};
        const Gap after{sequence + take, g.length - offset - take};
        g = before.length ? before : Gap{};
        if (after.length) add_gap(after.start, after.length);
        return take;
    }
    return 0;
}

}  // namespace flowguard::collector
