#pragma once
// Batches of fixed-size items (flow records, DNS events) and the channel that carries them from one producer
// thread (a receive or capture thread) to one shard. Each channel owns a fixed pool of batches that circulate
// through two lock-free SPSC rings: `full` (producer -> consumer) and `free` (consumer -> producer). Nothing
// is allocated after construction, and the producer never waits: if every batch is in the consumer's hands,
// acquire() returns nullptr and the producer drops and counts what it could not hand over.
#include <flowguard/core/dns_event.hpp>
#include <flowguard/core/doorbell.hpp>
#include <flowguard/core/flow_record.hpp>

#include <boost/lockfree/spsc_queue.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

namespace flowguard {

template <class Item, std::size_t Capacity>
struct Batch {
    static constexpr std::size_t kCapacity = Capacity;
    std::uint32_t count = 0;
    std::array<Item, Capacity> records;

    bool full() const noexcept { return count == kCapacity; }
};

using FlowBatch = Batch<FlowRecord, 256>;
using DnsBatch = Batch<DnsEvent, 32>;  // a DNS event is ~1.5 KiB: smaller batches keep a channel near 1.5 MiB

template <class BatchType>
class Channel {
public:
    explicit Channel(std::size_t batches) : full_(batches), free_(batches) {
        storage_.reserve(batches);
        for (std::size_t i = 0; i < batches; ++i) {
            storage_.push_back(std::make_unique<BatchType>());
            free_.push(storage_.back().get());
        }
    }
    Channel(const Channel&) = delete;
    Channel& operator=(const Channel&) = delete;

    // Producer side.
    BatchType* acquire() noexcept {
        BatchType* b = nullptr;
        if (!free_.pop(b)) return nullptr;
        b->count = 0;
        return b;
    }
    // Never fails: the ring holds as many slots as there are batches. Rings the consumer's doorbell once
    // a quarter of the batches wait for it (or are being filled): the other three quarters are the margin
    // for the consumer to be scheduled, even on a busy machine.
    void publish(BatchType* batch) noexcept {
        full_.push(batch);
        if (doorbell_ != nullptr && free_.read_available() <= storage_.size() - storage_.size() / 4) doorbell_->ring();
    }

    // Set once, before any thread runs: the doorbell of the shard that consumes this channel.
    void set_doorbell(Doorbell* doorbell) noexcept { doorbell_ = doorbell; }

    // Consumer side.
    BatchType* consume() noexcept {
        BatchType* b = nullptr;
        return full_.pop(b) ? b : nullptr;
    }
    void release(BatchType* batch) noexcept { free_.push(batch); }

    std::size_t queued() const noexcept { return full_.read_available(); }  // consumer side only
    std::size_t capacity() const noexcept { return storage_.size(); }

private:
    std::vector<std::unique_ptr<BatchType>> storage_;
    boost::lockfree::spsc_queue<BatchType*> full_;
    boost::lockfree::spsc_queue<BatchType*> free_;  // the producer is this ring's consumer
    Doorbell* doorbell_ = nullptr;
};

using BatchChannel = Channel<FlowBatch>;
using DnsChannel = Channel<DnsBatch>;

// A partly filled batch goes to its shard once its first item is this old: full batches keep the shards'
// wake-ups (and CPU) low under load, the age bound keeps latency low when traffic is thin.
inline constexpr std::uint64_t kMaxBatchAgeNs = 2'000'000;

// One producer's side of its channels to every shard: the batch being filled per shard, handed over when
// full or when it has waited long enough. Owned by the producer thread; nothing here is shared.
template <class BatchType>
class ShardBatcher {
public:
    using Item = typename decltype(BatchType::records)::value_type;

    explicit ShardBatcher(std::vector<Channel<BatchType>*> channels)
        : channels_(std::move(channels)), filling_(channels_.size(), nullptr), filling_since_(channels_.size(), 0) {}

    bool empty() const noexcept { return channels_.empty(); }

    // False when the shard holds every batch: the item is dropped (the caller counts it), never waited for.
    bool add(std::size_t shard, const Item& item, std::uint64_t now_ns) noexcept {
        BatchType*& batch = filling_[shard];
        if (batch == nullptr) {
            batch = channels_[shard]->acquire();
            if (batch == nullptr) return false;
            filling_since_[shard] = now_ns;
        }
        batch->records[batch->count++] = item;
        if (batch->full()) {
            channels_[shard]->publish(batch);
            batch = nullptr;
        }
        return true;
    }

    // Partly filled batches whose first item arrived at or before `older_than_ns` go to their shards.
    void hand_over(std::uint64_t older_than_ns) noexcept {
        for (std::size_t s = 0; s < filling_.size(); ++s) {
            if (filling_[s] != nullptr && filling_[s]->count > 0 && filling_since_[s] <= older_than_ns) {
                channels_[s]->publish(filling_[s]);
                filling_[s] = nullptr;
            }
        }
    }

    bool partial() const noexcept {
        for (const auto* b : filling_)
            if (b != nullptr) return true;
        return false;
    }

private:
    std::vector<Channel<BatchType>*> channels_;
    std::vector<BatchType*> filling_;
    std::vector<std::uint64_t> filling_since_;
};

}  // namespace flowguard
