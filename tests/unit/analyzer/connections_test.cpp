// Connection reconstruction and sliding-day popularity: the two things the beacon detector now scores through.
#include <flowguard/analyzer/client_activity.hpp>
#include <flowguard/analyzer/connections.hpp>
#include <flowguard/analyzer/popularity.hpp>

#include <doctest/doctest.h>

using namespace flowguard;
using namespace flowguard::analyzer;

namespace {

constexpr std::uint64_t kSecond = 1'000'000'000;
constexpr std::uint64_t kT0 = 1'700'000'000 * kSecond;

ConnectionKey key(std::uint16_t client_port, const char* server = "198.51.100.7") {
    return {*IpAddress::parse("10.0.0.5"), *IpAddress::parse(server), client_port, 443, 6};
}

}  // namespace

TEST_CASE("connections: keep-alive records of one 5-tuple are one connection; SYN, quiet or a new port start one") {
    ConnectionTracker tracker(600 * kSecond, 1024);
    auto first = tracker.observe(key(40000), kT0, kT0 + kSecond, 500, true);
    CHECK(first.starts);
    for (int i = 1; i <= 100; ++i) {  // a 30 s websocket ping, cut into a record each by a 15 s idle timeout
        const auto t = kT0 + static_cast<std::uint64_t>(i) * 30 * kSecond;
        auto seen = tracker.observe(key(40000), t, t + kSecond / 10, 90, false);
        CHECK_FALSE(seen.starts);
        CHECK(seen.connection->start_ns == kT0);
    }
    auto c = tracker.observe(key(40000), kT0 + 3030 * kSecond, kT0 + 3031 * kSecond, 90, false);
    CHECK_FALSE(c.starts);
    CHECK(c.connection->records == 102);
    CHECK(c.connection->last_ns == kT0 + 3031 * kSecond);
    CHECK(c.connection->bytes == 500 + 100 * 90 + 90);
    // The same ports again with a SYN: a new connection on a reused port.
    CHECK(tracker.observe(key(40000), kT0 + 3060 * kSecond, kT0 + 3061 * kSecond, 90, true).starts);
    // Quiet longer than the timeout: a new connection, flags or not.
    CHECK(tracker.observe(key(40000), kT0 + 3700 * kSecond, kT0 + 3701 * kSecond, 90, false).starts);
    // Another client port: another connection.
    CHECK(tracker.observe(key(40001), kT0 + 3701 * kSecond, kT0 + 3702 * kSecond, 90, false).starts);
    // A record that arrives late (an exporter behind the others) still continues its connection.
    CHECK_FALSE(tracker.observe(key(40001), kT0 + 3690 * kSecond, kT0 + 3691 * kSecond, 90, false).starts);
}

TEST_CASE("connections: quiet connections are swept as record time passes; a full table loses its stalest") {
    ConnectionTracker tracker(60 * kSecond, 100'000);
    for (std::uint16_t port = 1; port <= 5000; ++port)
        tracker.observe(key(port), kT0 + port * kSecond / 1000, kT0 + port * kSecond / 1000, 100, true);
    CHECK(tracker.size() == 5000);
    // Ten minutes later one record arrives: everything else has been quiet beyond the timeout.
    tracker.observe(key(1), kT0 + 600 * kSecond, kT0 + 600 * kSecond, 100, true);
    tracker.observe(key(2), kT0 + 700 * kSecond, kT0 + 700 * kSecond, 100, true);
    CHECK(tracker.size() <= 2);
    CHECK(tracker.evictions() == 0);

    ConnectionTracker small(3600 * kSecond, 64);
    for (std::uint16_t port = 1; port <= 1000; ++port)
        small.observe(key(port), kT0 + port * kSecond, kT0 + port * kSecond, 100, true);
    CHECK(small.size() <= 64);
    CHECK(small.evictions() >= 1000 - 64);
    // The newest survive an eviction: the last port continues its connection.
    CHECK_FALSE(small.observe(key(1000), kT0 + 1001 * kSecond, kT0 + 1001 * kSecond, 100, false).starts);
}

TEST_CASE("popularity: distinct clients per destination over a sliding window; the oldest make room") {
    constexpr std::uint64_t kDay = 86'400 * kSecond;
    Popularity popularity(kDay, 1024);
    const DestinationKey service{IpAddress{}, 42, 443, 1};
    const DestinationKey other{*IpAddress::parse("198.51.100.7"), 0, 443, 0};
    for (int client = 1; client <= 5; ++client) {
        const auto address = IpAddress::from_v4(0x0A000000u + static_cast<std::uint32_t>(client));
        popularity.note(service, address, kT0 + static_cast<std::uint64_t>(client) * 3600 * kSecond);
        popularity.note(service, address, kT0 + static_cast<std::uint64_t>(client) * 3600 * kSecond + kSecond);
    }
    CHECK(popularity.clients(service, kT0 + 6 * 3600 * kSecond) == 5);
    CHECK(popularity.clients(other, kT0) == 0);
    // A day after the first two were last noted, they no longer count.
    CHECK(popularity.clients(service, kT0 + 2 * 3600 * kSecond + kSecond + kDay + 1) == 3);
    // Twelve clients: the eight noted last are kept, the others made room.
    for (int client = 1; client <= 12; ++client)
        popularity.note(other, IpAddress::from_v4(0x0A000100u + static_cast<std::uint32_t>(client)),
                        kT0 + static_cast<std::uint64_t>(client) * kSecond);
    CHECK(popularity.clients(other, kT0 + 12 * kSecond) == Popularity::kClientsKept);
    CHECK(popularity.clients(other, kT0 + 4 * kSecond + kDay) == 8);
    CHECK(popularity.clients(other, kT0 + 5 * kSecond + kDay) == 8);
    CHECK(popularity.clients(other, kT0 + 6 * kSecond + kDay) == 7);

    Popularity bounded(kDay, 64);
    for (std::uint32_t n = 0; n < 1000; ++n)
        bounded.note({IpAddress::from_v4(0xC6336400u + n), 0, 443, 0}, *IpAddress::parse("10.0.0.5"), kT0 + n);
    CHECK(bounded.size() <= 64);
}

TEST_CASE("client activity: idle runs between two times, in 30-minute bins; unknown or too old is not idle") {
    using flowguard::analyzer::ClientActivity;
    constexpr std::uint64_t kHour = 3600 * kSecond;
    ClientActivity activity(1024);
    const auto laptop = *IpAddress::parse("10.0.0.5");
    const std::uint64_t day0 = (kT0 / (86'400 * kSecond)) * 86'400 * kSecond;
    // Awake 08:00-18:00 on three days, a record every 5 minutes.
    for (std::uint64_t day = 0; day < 3; ++day)
        for (std::uint64_t minute = 8 * 60; minute < 18 * 60; minute += 5)
            activity.note(laptop, day0 + day * 86'400 * kSecond + minute * 60 * kSecond);
    const auto at = [&](std::uint64_t day, std::uint64_t hour) { return day0 + (day * 24 + hour) * 3600 * kSecond; };
    CHECK(activity.asleep_ns(laptop, at(0, 9), at(0, 17), kHour) == 0);
    // 18:00 to 08:00: 14 hours asleep.
    CHECK(activity.asleep_ns(laptop, at(0, 17), at(1, 9), kHour) == 14 * 3600 * kSecond);
    CHECK(activity.asleep_ns(laptop, at(0, 17), at(2, 9), kHour) == 2 * 14 * 3600 * kSecond);   // two nights
    CHECK(activity.asleep_ns(laptop, at(0, 17), at(2, 9), 15 * kHour) == 0);                    // neither is that long
    CHECK(activity.asleep_ns(*IpAddress::parse("10.0.0.6"), at(0, 17), at(1, 9), kHour) == 0);  // unknown
    CHECK(activity.asleep_ns(laptop, at(1, 9), at(5, 9), kHour) == 0);                          // beyond what was noted
    // Nothing between day 2 and day 12 (off for a week): idle, the bins at both ends excluded.
    activity.note(laptop, at(12, 9));
    CHECK(activity.asleep_ns(laptop, at(11, 9), at(12, 9), kHour) == (24 * 2 - 1) * 1800 * kSecond);
    CHECK(activity.asleep_ns(laptop, at(5, 9), at(12, 9), kHour) == (7 * 24 * 2 - 1) * 1800 * kSecond);
    // Still known 12 days on (a sparse implant's 48 events span weeks) ...
    CHECK(activity.asleep_ns(laptop, at(0, 17), at(1, 9), kHour) == 14 * 3600 * kSecond);
    // ... but 25 days later the first days are no longer kept: nothing is claimed about them.
    activity.note(laptop, at(25, 9));
    CHECK(activity.asleep_ns(laptop, at(0, 17), at(1, 9), kHour) == 0);
    CHECK(activity.asleep_ns(laptop, at(24, 9), at(25, 9), kHour) == (24 * 2 - 1) * 1800 * kSecond);

    ClientActivity bounded(64);
    for (std::uint32_t n = 0; n < 1000; ++n) bounded.note(IpAddress::from_v4(0x0A000000u + n), kT0 + n * kSecond);
    CHECK(bounded.size() <= 64);
}

TEST_CASE("connections: a record with FIN or RST ends its connection; a whole short one is never stored") {
    ConnectionTracker tracker(600 * kSecond, 1024);
    for (std::uint16_t port = 1; port <= 100; ++port)  // short connections, SYN to FIN in one record each
        CHECK(tracker.observe(key(port), kT0 + port * kSecond, kT0 + port * kSecond + 1, 900, true, true).starts);
    CHECK(tracker.size() == 0);
    // A session: opened, kept alive, closed by its last record; the same ports after it are a new connection.
    CHECK(tracker.observe(key(5000), kT0, kT0 + kSecond, 100, true).starts);
    CHECK_FALSE(tracker.observe(key(5000), kT0 + 30 * kSecond, kT0 + 31 * kSecond, 100, false).starts);
    const auto last = tracker.observe(key(5000), kT0 + 60 * kSecond, kT0 + 61 * kSecond, 100, false, true);
    CHECK_FALSE(last.starts);
    CHECK(last.connection->records == 3);
    CHECK(last.connection->start_ns == kT0);
    CHECK(tracker.size() == 0);
    CHECK(tracker.observe(key(5000), kT0 + 90 * kSecond, kT0 + 91 * kSecond, 100, false).starts);
}
