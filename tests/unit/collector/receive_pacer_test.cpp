#include <flowguard/collector/receive_pacer.hpp>

#include <doctest/doctest.h>

#include <cstdint>

using flowguard::collector::ReceivePacer;

namespace {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::size_t kRoomyBuffer = 8u << 20;

// Feeds `bursts` wake-ups of `datagrams` each, `gap_ns` apart, from `now` on; returns the last nap.
std::uint64_t feed(ReceivePacer& pacer, std::uint64_t& now, int bursts, std::size_t datagrams, std::uint64_t gap_ns) {
    std::uint64_t nap = 0;
    for (int i = 0; i < bursts; ++i) {
        nap = pacer.after_wakeup(datagrams, false, now);
        now += gap_ns;
    }
    return nap;
}

}  // namespace

TEST_CASE("steady traffic: the nap lets about the target gather, within the latency bound") {
    ReceivePacer pacer(2 * kMs, 64, kRoomyBuffer);
    CHECK(pacer.burst_target() == 32);
    std::uint64_t now = 1'000'000'000;
    // 10 datagrams every 1 ms: 10k datagrams/s, so 32 datagrams take 3.2 ms: the 2 ms bound applies.
    CHECK(feed(pacer, now, 1, 10, kMs) == 0);  // no rate known yet: no nap
    const auto nap = feed(pacer, now, 30, 10, kMs);
    CHECK(pacer.rate_per_second() == doctest::Approx(10'000).epsilon(0.1));
    CHECK(nap == 2 * kMs);
    // 40 datagrams every 1 ms: 40k/s, 32 datagrams in 0.8 ms.
    const auto faster = feed(pacer, now, 30, 40, kMs);
    CHECK(faster == doctest::Approx(800'000).epsilon(0.1));
}

TEST_CASE("no nap while reads come back full, when turned off, or for sparse traffic") {
    std::uint64_t now = 1'000'000'000;
    ReceivePacer busy(2 * kMs, 64, kRoomyBuffer);
    feed(busy, now, 50, 40, kMs);
    CHECK(busy.after_wakeup(64, true, now) == 0);

    ReceivePacer off(0, 64, kRoomyBuffer);
    CHECK(feed(off, now, 50, 40, kMs) == 0);

    // 1 datagram every 5 ms: within a 2 ms nap fewer than 2 would arrive, so waiting batches nothing.
    ReceivePacer sparse(2 * kMs, 64, kRoomyBuffer);
    CHECK(feed(sparse, now, 50, 1, 5 * kMs) == 0);
}

TEST_CASE("traffic that stops and restarts is measured afresh") {
    ReceivePacer pacer(2 * kMs, 64, kRoomyBuffer);
    std::uint64_t now = 1'000'000'000;
    CHECK(feed(pacer, now, 50, 40, kMs) > 0);
    now += 60'000 * kMs;  // a minute of silence, then one datagram: the rate is that of the silence
    CHECK(pacer.after_wakeup(1, false, now) == 0);
}

TEST_CASE("a small receive buffer shrinks the target so a nap cannot overflow it") {
    // Debian's default net.core.rmem_max (212992) granted as 425984: ~104 datagrams at 4 KiB each.
    ReceivePacer capped(2 * kMs, 1024, 425'984);
    CHECK(capped.burst_target() == 52);
    ReceivePacer tiny(2 * kMs, 64, 4096);
    CHECK(tiny.burst_target() == 1);
    // At 200k datagrams/s the nap is 52 / 200k = 260 us, far below the bound.
    std::uint64_t now = 1'000'000'000;
    const auto nap = feed(capped, now, 30, 200, kMs);
    CHECK(nap == doctest::Approx(260'000).epsilon(0.1));
}
