#pragma once
// Sequence accounting for one exporter stream (exporter + observation domain / source id / engine).
// Each protocol numbers something different: NetFlow v5 counts flows, v9 counts export packets,
// IPFIX counts data records. The tracker only sees (sequence, units in this packet) and tells
// in-order, lost (a gap), reordered (a late packet that fills a gap), duplicate and restart apart.
// State is a fixed-size window, so a hostile exporter cannot grow it.
#include <array>
#include <cstdint>

namespace flowguard::collector {

struct SequenceCounters {
    std::uint64_t lost = 0;       // units (flows / packets / records) never seen
    std::uint64_t reordered = 0;  // packets that arrived after a later one
    std::uint64_t duplicate = 0;  // packets seen twice
    std::uint64_t restarts = 0;   // exporter restarts (sequence or uptime reset)

    SequenceCounters& operator+=(const SequenceCounters& o) noexcept {
        lost += o.lost;
        reordered += o.reordered;
        duplicate += o.duplicate;
        restarts += o.restarts;
        return *this;
    }
};

class SequenceTracker {
public:
    enum class Outcome { first, in_order, gap, reordered, duplicate, restart };

    // max_forward: a forward jump larger than this is a restart, not loss.
    // late_window: a backward jump within this that fills no gap is a late packet; beyond it, a restart.
    explicit SequenceTracker(std::uint32_t max_forward = 1u << 24, std::uint32_t late_window = 1u << 16)
        : max_forward_(max_forward), late_window_(late_window) {}

    Outcome observe(std::uint32_t sequence, std::uint32_t units);
    // The exporter restarted (e.g. its uptime went back): forget the past, start from this packet.
    void restart(std::uint32_t sequence, std::uint32_t units);
    // The packet's unit count is unknown (undecodable data): take its sequence without judging it.
    void resync(std::uint32_t sequence);

    const SequenceCounters& counters() const noexcept { return counters_; }
    bool started() const noexcept { return started_; }
    std::uint32_t expected() const noexcept { return expected_; }

private:
    struct Gap {
        std::uint32_t start = 0;
        std::uint32_t length = 0;  // 0 = free slot
    };
    static constexpr std::size_t kMaxGaps = 16;
    static constexpr std::size_t kRecent = 32;

    void remember(std::uint32_t sequence);
    bool seen_recently(std::uint32_t sequence) const;
    void add_gap(std::uint32_t start, std::uint32_t length);
    std::uint32_t fill_gap(std::uint32_t sequence, std::uint32_t units);
    void reset(std::uint32_t sequence, std::uint32_t units);

    std::uint32_t max_forward_;
    std::uint32_t late_window_;
    bool started_ = false;
    bool resync_pending_ = false;
    std::uint32_t expected_ = 0;
    std::array<Gap, kMaxGaps> gaps_{};
    std::array<std::uint32_t, kRecent> recent_{};
    std::size_t recent_count_ = 0;
    std::size_t recent_next_ = 0;
    SequenceCounters counters_;
};

}  // namespace flowguard::collector
