#include <flowguard/core/flow_batch.hpp>
#include <flowguard/core/network_set.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

using namespace flowguard;

TEST_CASE("a channel hands batches over in order and takes them back") {
    BatchChannel channel(4);
    auto* a = channel.acquire();
    REQUIRE(a);
    a->count = 7;
    channel.publish(a);
    CHECK(channel.queued() == 1);
    auto* got = channel.consume();
    REQUIRE(got == a);
    CHECK(got->count == 7);
    CHECK(channel.consume() == nullptr);
    channel.release(got);
    CHECK(channel.acquire()->count == 0);  // acquired batches start empty
}

TEST_CASE("a consumer that holds every batch makes the producer drop, never wait, and every record is counted") {
    // The producer floods 100,000 records; the consumer is slow. sent == delivered + counted drops, exactly.
    BatchChannel channel(8);
    constexpr std::uint64_t kRecords = 100'000;
    std::atomic<bool> done{false};
    std::uint64_t delivered = 0;
    std::thread consumer([&] {
        for (;;) {
            const bool finished = done.load(std::memory_order_acquire);
            while (FlowBatch* b = channel.consume()) {
                delivered += b->count;
                std::this_thread::yield();  // slow on purpose
                channel.release(b);
            }
            if (finished) return;
        }
    });
    std::uint64_t dropped = 0;
    FlowBatch* filling = nullptr;
    for (std::uint64_t i = 0; i < kRecords; ++i) {
        if (filling == nullptr && (filling = channel.acquire()) == nullptr) {
            ++dropped;
            continue;
        }
        filling->records[filling->count++].bytes = i;
        if (filling->full() || i % 97 == 0) {
            channel.publish(filling);
            filling = nullptr;
        }
    }
    if (filling) channel.publish(filling);
    done.store(true, std::memory_order_release);
    consumer.join();
    CHECK(delivered + dropped == kRecords);
    CHECK(delivered > 0);
}

TEST_CASE("records cross the channel intact between threads") {
    BatchChannel channel(16);
    constexpr std::uint64_t kBatches = 20'000;
    std::atomic<bool> done{false};
    std::uint64_t sum = 0;
    std::uint64_t received = 0;
    std::thread consumer([&] {
        for (;;) {
            const bool finished = done.load(std::memory_order_acquire);
            while (FlowBatch* b = channel.consume()) {
                for (std::uint32_t i = 0; i < b->count; ++i) sum += b->records[i].packets;
                ++received;
                channel.release(b);
            }
            if (finished) return;
            std::this_thread::yield();
        }
    });
    std::uint64_t expected = 0;
    for (std::uint64_t n = 0; n < kBatches;) {
        FlowBatch* b = channel.acquire();
        if (b == nullptr) {
            std::this_thread::yield();
            continue;
        }
        b->count = 3;
        for (std::uint32_t i = 0; i < 3; ++i) {
            b->records[i].packets = n * 3 + i;
            expected += n * 3 + i;
        }
        channel.publish(b);
        ++n;
    }
    done.store(true, std::memory_order_release);
    consumer.join();
    CHECK(received == kBatches);
    CHECK(sum == expected);
}

TEST_CASE("a shard batcher fills one batch per shard, hands over full or aged batches, and reports drops") {
    DnsChannel a(2);
    DnsChannel b(2);
    ShardBatcher<DnsBatch> batcher({&a, &b});
    DnsEvent event;
    // Shard 0 gets a whole batch plus one: the full batch is published at once, the extra one waits.
    for (std::size_t i = 0; i <= DnsBatch::kCapacity; ++i) {
        event.id = static_cast<std::uint16_t>(i);
        CHECK(batcher.add(0, event, 100));
    }
    CHECK(a.queued() == 1);
    CHECK(batcher.add(1, event, 500));
    CHECK(batcher.partial());
    batcher.hand_over(200);  // shard 0's partial batch started at 100: old enough; shard 1's at 500 is not
    CHECK(a.queued() == 2);
    CHECK(b.queued() == 0);
    CHECK(batcher.partial());
    // Shard 0's consumer holds both batches: the producer drops, never waits.
    CHECK_FALSE(batcher.add(0, event, 600));
    batcher.hand_over(UINT64_MAX);
    CHECK(b.queued() == 1);
    CHECK_FALSE(batcher.partial());
    DnsBatch* first = a.consume();
    REQUIRE(first);
    CHECK(first->count == DnsBatch::kCapacity);
    CHECK(first->records[0].id == 0);
    DnsBatch* second = a.consume();
    REQUIRE(second);
    CHECK(second->count == 1);
    CHECK(second->records[0].id == DnsBatch::kCapacity);
}
