#include <flowguard/collector/exporter_stats.hpp>
#include <flowguard/collector/sequence_tracker.hpp>

#include <doctest/doctest.h>

using flowguard::collector::SequenceTracker;
using Outcome = SequenceTracker::Outcome;

TEST_CASE("in-order packets count nothing") {
    SequenceTracker t;
    CHECK(t.observe(100, 10) == Outcome::first);
    CHECK(t.observe(110, 5) == Outcome::in_order);
    CHECK(t.observe(115, 1) == Outcome::in_order);
    CHECK(t.counters().lost == 0);
    CHECK(t.expected() == 116);
}

TEST_CASE("a gap is loss; the late packet that fills it is reordering, not loss") {
    SequenceTracker t;
    t.observe(0, 10);
    CHECK(t.observe(20, 10) == Outcome::gap);  // 10..19 missing
    CHECK(t.counters().lost == 10);
    CHECK(t.observe(10, 10) == Outcome::reordered);
    CHECK(t.counters().lost == 0);
    CHECK(t.counters().reordered == 1);
    CHECK(t.observe(30, 1) == Outcome::in_order);
}

TEST_CASE("a late packet filling part of a gap leaves the rest lost") {
    SequenceTracker t;
    t.observe(0, 1);
    t.observe(5, 1);  // 1..4 lost
    CHECK(t.counters().lost == 4);
    CHECK(t.observe(2, 1) == Outcome::reordered);
    CHECK(t.counters().lost == 3);
    CHECK(t.observe(1, 1) == Outcome::reordered);
    CHECK(t.observe(4, 1) == Outcome::reordered);
    CHECK(t.counters().lost == 1);  // only 3 never came
}

TEST_CASE("a packet seen twice is a duplicate and changes nothing else") {
    SequenceTracker t;
    t.observe(7, 1);
    t.observe(8, 1);
    CHECK(t.observe(8, 1) == Outcome::duplicate);
    CHECK(t.counters().duplicate == 1);
    CHECK(t.counters().lost == 0);
    CHECK(t.observe(9, 1) == Outcome::in_order);
}

TEST_CASE("sequence numbers wrap at 2^32") {
    SequenceTracker t;
    t.observe(0xfffffffe, 1);
    CHECK(t.observe(0xffffffff, 1) == Outcome::in_order);
    CHECK(t.observe(0, 1) == Outcome::in_order);
    CHECK(t.observe(3, 1) == Outcome::gap);
    CHECK(t.counters().lost == 2);
}

TEST_CASE("a jump far beyond the window is a restart, not loss") {
    SequenceTracker t(1000, 100);
    t.observe(5'000'000, 1);
    CHECK(t.observe(3, 1) == Outcome::restart);
    CHECK(t.observe(2'000'000, 1) == Outcome::restart);
    CHECK(t.counters().restarts == 2);
    CHECK(t.counters().lost == 0);
}

TEST_CASE("resync accepts the next packet whatever its unit count was") {
    SequenceTracker t;
    t.observe(0, 5);
    t.resync(5);  // a packet with an unknown number of records started at 5
    CHECK(t.observe(42, 3) == Outcome::in_order);
    CHECK(t.counters().lost == 0);
    CHECK(t.observe(46, 1) == Outcome::gap);
}

TEST_CASE("memory stays fixed under a storm of gaps") {
    SequenceTracker t;
    std::uint32_t seq = 0;
    for (int i = 0; i < 100000; ++i) {
        t.observe(seq, 1);
        seq += 3;
    }
    CHECK(t.counters().lost == 2ull * 99999);
    CHECK(sizeof(SequenceTracker) < 512);
}

TEST_CASE("one exporter's counters from several receive threads add up; the newest datagram time wins") {
    flowguard::collector::ExporterStats a, b;
    a.packets = 3;
    a.last_packet_ns = 50;
    a.sequence.lost = 2;
    b.packets = 4;
    b.last_packet_ns = 40;
    b.sequence.lost = 1;
    b.sequence.restarts = 1;
    a += b;
    CHECK(a.packets == 7);
    CHECK(a.last_packet_ns == 50);
    CHECK(a.sequence.lost == 3);
    CHECK(a.sequence.restarts == 1);
}
