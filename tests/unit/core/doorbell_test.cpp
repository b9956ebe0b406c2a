#include <flowguard/core/doorbell.hpp>
#include <flowguard/core/flow_batch.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

using namespace flowguard;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

void wait_until_napping(const Doorbell& bell) {
    while (!bell.napping()) std::this_thread::sleep_for(1ms);
}

}  // namespace

TEST_CASE("a nap nobody rings lasts until its timeout") {
    Doorbell bell;
    const auto start = Clock::now();
    CHECK_FALSE(bell.nap(30ms));  // not rung
    CHECK(Clock::now() - start >= 25ms);
    CHECK(bell.wakes() == 0);
    CHECK_FALSE(bell.napping());
}

TEST_CASE("a ring cuts a long nap short") {
    Doorbell bell;
    std::atomic<bool> woke{false};
    const auto start = Clock::now();
    std::thread consumer([&] { woke.store(bell.nap(60s)); });
    wait_until_napping(bell);
    bell.ring();
    consumer.join();
    CHECK(woke.load());
    CHECK(Clock::now() - start < 20s);  // the nap alone would take 60 s
    CHECK(bell.wakes() == 1);
}

TEST_CASE("ringing an awake consumer is a no-op that leaves its next nap whole") {
    Doorbell bell;
    bell.ring();
    bell.ring();
    CHECK(bell.wakes() == 0);
    const auto start = Clock::now();
    CHECK_FALSE(bell.nap(30ms));  // no ring was stored for later
    CHECK(Clock::now() - start >= 25ms);
}

TEST_CASE("a channel rings its consumer once a quarter of its batches are in use, not before") {
    BatchChannel channel(16);
    Doorbell bell;
    channel.set_doorbell(&bell);
    std::atomic<bool> rung{false};
    std::atomic<bool> returned{false};
    std::thread consumer([&] {
        rung.store(bell.nap(60s));
        returned.store(true);
    });
    wait_until_napping(bell);
    for (int i = 0; i < 3; ++i) channel.publish(channel.acquire());  // 13 of 16 still free
    std::this_thread::sleep_for(50ms);
    CHECK_FALSE(returned.load());
    CHECK(bell.napping());
    channel.publish(channel.acquire());  // 12 of 16 free: a quarter in use
    consumer.join();
    CHECK(rung.load());
    CHECK(bell.wakes() == 1);
    CHECK(channel.queued() == 4);
}
