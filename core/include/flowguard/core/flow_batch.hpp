#pragma once
// Batches of flow records and the channel that carries them from one receive thread to one shard.
// Each channel owns a fixed pool of batches that circulate through two lock-free SPSC rings: `full`
// (producer -> consumer) and `free` (consumer -> producer). Nothing is allocated after construction, and
// the producer never waits: if every batch is in the consumer's hands, acquire() returns nullptr and the
// producer drops and counts what it could not hand over.
#include <flowguard/core/flow_record.hpp>

#include <boost/lockfree/spsc_queue.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

namespace flowguard {

struct FlowBatch {
    static constexpr std::size_t kCapacity = 256;
    std::uint32_t count = 0;
    std::array<FlowRecord, kCapacity> records;

    bool full() const noexcept { return count == kCapacity; }
};

class BatchChannel {
public:
    explicit BatchChannel(std::size_t batches) : full_(batches), free_(batches) {
        storage_.reserve(batches);
        for (std::size_t i = 0; i < batches; ++i) {
            storage_.push_back(std::make_unique<FlowBatch>());
            free_.push(storage_.back().get());
        }
    }
    BatchChannel(const BatchChannel&) = delete;
    BatchChannel& operator=(const BatchChannel&) = delete;

    // Producer side.
    FlowBatch* acquire() noexcept {
        FlowBatch* b = nullptr;
        if (!free_.pop(b)) return nullptr;
        b->count = 0;
        return b;
    }
    // Never fails: the ring holds as many slots as there are batches.
    void publish(FlowBatch* batch) noexcept { full_.push(batch); }

    // Consumer side.
    FlowBatch* consume() noexcept {
        FlowBatch* b = nullptr;
        return full_.pop(b) ? b : nullptr;
    }
    void release(FlowBatch* batch) noexcept { free_.push(batch); }

    std::size_t queued() const noexcept { return full_.read_available(); }  // consumer side only
    std::size_t capacity() const noexcept { return storage_.size(); }

private:
    std::vector<std::unique_ptr<FlowBatch>> storage_;
    boost::lockfree::spsc_queue<FlowBatch*> full_;
    boost::lockfree::spsc_queue<FlowBatch*> free_;
};

}  // namespace flowguard
