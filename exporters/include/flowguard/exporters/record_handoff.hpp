#pragma once
// A shard's records on their way to a sink's own thread (the archive's writer, the ClickHouse sender): copied
// into a buffer, handed over when full and after each round of batches (so a quiet input's records still
// leave), never a lock per record. `Sink::submit(std::vector<FlowRecord>&)` takes the full buffer and leaves an
// empty one (with its capacity) in its place.
#include <flowguard/core/stage.hpp>

#include <algorithm>
#include <cstddef>
#include <vector>

namespace flowguard::exporters {

inline constexpr std::size_t kHandoffFlows = 4096;  // a stage hands over this many records at a time

template <class Sink>
class RecordHandoffStage final : public Stage {
public:
    explicit RecordHandoffStage(Sink& sink) : sink_(sink) { buffer_.reserve(kHandoffFlows); }
    void on_flows(std::span<const FlowRecord> records, std::uint64_t, Alerts&) override {
        while (!records.empty()) {
            const std::size_t take = std::min(kHandoffFlows - buffer_.size(), records.size());
            buffer_.insert(buffer_.end(), records.begin(), records.begin() + static_cast<std::ptrdiff_t>(take));
            records = records.subspan(take);
            if (buffer_.size() == kHandoffFlows) sink_.submit(buffer_);
        }
    }
    void flush(std::uint64_t) override {
        if (!buffer_.empty()) sink_.submit(buffer_);
    }

private:
    Sink& sink_;
    std::vector<FlowRecord> buffer_;
};

// The other side: buffers waiting for the sink's thread, counted in flows. Emptied buffers come back (up to a
// few) so that hand-overs allocate nothing in the steady state. Not locked: the sink holds its own mutex.
class RecordQueue {
public:
    std::size_t flows() const noexcept { return flows_; }
    bool empty() const noexcept { return queue_.empty(); }
    // Moves `records` in and leaves an empty buffer in its place (a recycled one when there is one).
    void push(std::vector<FlowRecord>& records) {
        flows_ += records.size();
        queue_.push_back(std::move(records));
        if (!spare_.empty()) {
            records = std::move(spare_.back());
            spare_.pop_back();
        } else {
            records = {};
            records.reserve(kHandoffFlows);
        }
    }
    // Everything queued, into `out` (empty), for the sink's thread.
    void take(std::vector<std::vector<FlowRecord>>& out) {
        out.swap(queue_);
        flows_ = 0;
    }
    // The buffers take() gave, written: emptied and kept for push().
    void recycle(std::vector<std::vector<FlowRecord>>& buffers) {
        for (auto& records : buffers) {
            records.clear();
            if (spare_.size() < 8) spare_.push_back(std::move(records));
        }
        buffers.clear();
    }

private:
    std::vector<std::vector<FlowRecord>> queue_;
    std::vector<std::vector<FlowRecord>> spare_;
    std::size_t flows_ = 0;
};

}  // namespace flowguard::exporters
