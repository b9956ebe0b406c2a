// The ClickHouse sink without a server: the RowBinary layout, the schema statements, which partitions retention
// drops, and the sender thread against a fake transport and a clock the test moves (batches, retries in order,
// the spool across a restart, drops when full, a lost schema created again).
#include "temp_dirs.hpp"

#include <flowguard/exporters/clickhouse.hpp>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace flowguard;
using namespace flowguard::exporters;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kSecond = 1'000'000'000;
constexpr std::uint64_t kDay = 86400 * kSecond;
constexpr std::uint64_t kT0 = 1'764'000'000ull * kSecond;  // 2025-11-24T16:00:00Z

template <class T>
T read_at(const std::string& rows, std::size_t offset) {
    T value;
    std::memcpy(&value, rows.data() + offset, sizeof value);
    return value;
}

FlowRecord sample_record(std::uint32_t n) {
    FlowRecord r;
    r.time_received_ns = kT0 + n * kSecond;
    r.time_flow_start_ns = kT0 - 10 * kSecond;
    r.time_flow_end_ns = kT0 - 10 * kSecond + 2'500'000'000ull;
    r.type = FlowType::ipfix;
    r.sampler_address = IpAddress::from_v4(0xC0000201u);
    r.sampler_port = 4739;
    r.sequence_num = 77;
    r.observation_domain_id = 9;
    r.sampling_rate = 100;
    r.bytes = 123456789012ull;
    r.packets = 1000 + n;
    r.src_addr = IpAddress::from_v4(0x0A010203u);
    r.dst_addr = *IpAddress::parse("2001:db8::1");
    r.etype = kEtherTypeIPv4;
    r.proto = 6;
    r.src_port = 51000;
    r.dst_port = 443;
    r.in_if = 3;
    r.out_if = 7;
    r.src_mac = 0x001122334455ull;
    r.ip_tos = 46;
    r.tcp_flags = 0x1b;
    r.direction = FlowDirection::egress;
    r.src_mask = 24;
    r.dst_mask = 64;
    r.src_as = 64500;
    r.dst_as = 15169;
    r.next_hop_as = 3356;
    return r;
}

std::vector<FlowRecord> records(std::size_t count, std::uint32_t first = 0) {
    std::vector<FlowRecord> out;
    for (std::size_t i = 0; i < count; ++i) out.push_back(sample_record(first + static_cast<std::uint32_t>(i)));
    return out;
}

// What the fake server received: each INSERT's rows, by the first record's packets (the record's number).
class FakeServer {
public:
    ClickHouseResponse operator()(const ClickHouseRequest& request) {
        std::lock_guard lock(mutex_);
        ++requests_;
        if (down_) return {0, "connect: Connection refused", ""};
        if (request.query.empty()) {
            statements_.emplace_back(request.body);
            if (request.body.starts_with("CREATE")) schema_ = true;
            return {200, "", ""};
        }
        if (!schema_)
            return {500, "HTTP 500: Code: 60, e.displayText() = DB::Exception: Table flowguard.flows doesn't exist",
                    ""};
        REQUIRE(request.body.size() % kClickHouseRowBytes == 0);
        for (std::size_t at = 0; at < request.body.size(); at += kClickHouseRowBytes)
            received_.push_back(read_at<std::uint64_t>(std::string(request.body.substr(at, kClickHouseRowBytes)), 59));
        ++inserts_;
        return {200, "", ""};
    }
    void set_down(bool down) {
        std::lock_guard lock(mutex_);
        down_ = down;
    }
    void lose_schema() {
        std::lock_guard lock(mutex_);
        schema_ = false;
    }
    std::vector<std::uint64_t> received() const {
        std::lock_guard lock(mutex_);
        return received_;
    }
    std::size_t inserts() const {
        std::lock_guard lock(mutex_);
        return inserts_;
    }
    std::size_t statements_seen(std::string_view text) const {
        std::lock_guard lock(mutex_);
        return static_cast<std::size_t>(std::count(statements_.begin(), statements_.end(), text));
    }
    std::size_t creates() const {
        std::lock_guard lock(mutex_);
        return static_cast<std::size_t>(std::count_if(statements_.begin(), statements_.end(),
                                                      [](const auto& s) { return s.starts_with("CREATE"); }));
    }

private:
    mutable std::mutex mutex_;
    bool down_ = false;
    bool schema_ = false;
    std::size_t requests_ = 0;
    std::size_t inserts_ = 0;
    std::vector<std::string> statements_;
    std::vector<std::uint64_t> received_;
};

struct Harness {
    explicit Harness(ClickHouseConfig c = {}) : config(std::move(c)) {
        config.url = "http://127.0.0.1:8123";
        config.retention = {0, 0, 0, 0};
    }
    std::unique_ptr<ClickHouseSink> open() {
        return std::make_unique<ClickHouseSink>(
            config, [this](const ClickHouseRequest& r) { return server(r); }, [this] { return now.load(); });
    }
    ClickHouseConfig config;
    FakeServer server;
    std::atomic<std::uint64_t> now{kT0};
};

// Moves time on and wakes the sender (an empty hand-over), then waits (real time) for `done`.
template <class Done>
bool advance_until(Harness& h, ClickHouseSink& sink, std::uint64_t step_ns, Done done) {
    for (int i = 0; i < 400; ++i) {
        if (done()) return true;
        h.now += step_ns;
        std::vector<FlowRecord> none;
        sink.submit(none);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return done();
}

void send(ClickHouseSink& sink, std::vector<FlowRecord> batch) {
    sink.submit(batch);
}

std::vector<std::uint64_t> numbers(std::uint64_t first, std::uint64_t count) {
    std::vector<std::uint64_t> out;
    for (std::uint64_t i = 0; i < count; ++i) out.push_back(1000 + first + i);
    return out;
}

fs::path fresh_dir(const std::string& name) {
    return test::fresh_test_dir("clickhouse", name);
}

}  // namespace

TEST_CASE("clickhouse rows: RowBinary, fixed width, little-endian, in the INSERT's column order") {
    std::string rows;
    const auto r = sample_record(5);
    append_clickhouse_rows(rows, std::span(&r, 1));
    REQUIRE(rows.size() == kClickHouseRowBytes);
    CHECK(read_at<std::uint32_t>(rows, 0) == kT0 / kSecond + 5);   // TimeReceived
    CHECK(read_at<std::uint32_t>(rows, 4) == kT0 / kSecond - 10);  // TimeFlowStart
    CHECK(read_at<std::uint32_t>(rows, 12) == 2500);               // DurationMs
    CHECK(read_at<std::uint8_t>(rows, 16) == 4);                   // Type: IPFIX
    CHECK(std::memcmp(rows.data() + 17, r.sampler_address.bytes().data(), 16) == 0);
    CHECK(read_at<std::uint16_t>(rows, 33) == 4739);
    CHECK(read_at<std::uint64_t>(rows, 51) == 123456789012ull);  // Bytes
    CHECK(read_at<std::uint64_t>(rows, 59) == 1005);             // Packets
    const std::uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
    CHECK(std::memcmp(rows.data() + 67, mapped, 16) == 0);  // SrcAddr: IPv4-mapped, as IPv4ToIPv6 makes it
    CHECK(std::memcmp(rows.data() + 83, r.dst_addr.bytes().data(), 16) == 0);
    CHECK(read_at<std::uint8_t>(rows, 133) == 6);
    CHECK(read_at<std::uint16_t>(rows, 134) == 51000);
    CHECK(read_at<std::uint16_t>(rows, 136) == 443);
    CHECK(read_at<std::uint32_t>(rows, 142) == 7);
    CHECK(read_at<std::uint8_t>(rows, 166) == 46);
    CHECK(read_at<std::uint8_t>(rows, 173) == 1);      // FlowDirection: egress
    CHECK(read_at<std::uint32_t>(rows, 188) == 3356);  // NextHopAS, the last column

    FlowRecord far_future;
    far_future.time_received_ns = UINT64_MAX;  // DateTime is 32 bits: clamped, never wrapped
    far_future.time_flow_end_ns = 1;
    rows.clear();
    append_clickhouse_rows(rows, std::span(&far_future, 1));
    CHECK(read_at<std::uint32_t>(rows, 0) == UINT32_MAX);
    CHECK(read_at<std::uint32_t>(rows, 12) == 0);
}

TEST_CASE("clickhouse schema: tables, roll-ups and views; local and Distributed tables on a cluster") {
    ClickHouseConfig config;
    config.database = "netflows";
    const auto one = clickhouse_schema(config);
    REQUIRE(one.size() == 8);
    CHECK(one[0] == "CREATE DATABASE IF NOT EXISTS netflows");
    CHECK(one[1].find("CREATE TABLE IF NOT EXISTS netflows.flows (") == 0);
    CHECK(one[1].find("PARTITION BY toYYYYMMDD(TimeReceived)") != std::string::npos);
    for (const auto* rollup : {"flows_1m", "flows_5m", "flows_1h"}) {
        const auto has = [&](const std::string& text) {
            return std::any_of(one.begin(), one.end(),
                               [&](const auto& s) { return s.find(text) != std::string::npos; });
        };
        CHECK(has(fmt::format("CREATE TABLE IF NOT EXISTS netflows.{} (", rollup)));
        CHECK(has(fmt::format("CREATE MATERIALIZED VIEW IF NOT EXISTS netflows.{0}_mv TO netflows.{0} AS", rollup)));
    }
    const auto insert = clickhouse_insert_query(config);
    CHECK(insert.find("INSERT INTO netflows.flows (TimeReceived, TimeFlowStart,") == 0);
    CHECK(insert.ends_with("NextHopAS) FORMAT RowBinary"));

    config.cluster = "flows_cluster";
    const auto cluster = clickhouse_schema(config);
    REQUIRE(cluster.size() == 12);
    CHECK(cluster[1].find("CREATE TABLE IF NOT EXISTS netflows.flows_local (") == 0);
    CHECK(cluster[8].find("ENGINE = Distributed(flows_cluster, netflows, flows_local, rand())") != std::string::npos);
    CHECK(clickhouse_insert_query(config).find("INSERT INTO netflows.flows (") == 0);  // through the Distributed table
    CHECK(clickhouse_retained_tables(config)[0].table == "flows_local");
}

TEST_CASE("clickhouse retention: a day partition goes when all of it is older than its table's age") {
    ClickHouseConfig config;
    config.retention = {30 * kDay, 7 * kDay, 0, 365 * kDay};
    // kT0 is 2025-11-24 16:00 UTC: with 30 days, 2025-10-24 ended 30 days and 16 hours ago; 2025-10-25 has not.
    const std::string parts =
        "flows\t20251024\nflows\t20251025\nflows_1m\t20251116\nflows_1m\t20251117\nflows_5m\t20200101\n"
        "flows_1h\t20241123\nflows_1h\t20241124\nother\t20000101\nflows\tall\nflows\t2025102\nbroken line\n";
    const auto drops = clickhouse_expired_partitions(config, parts, kT0);
    CHECK(drops == std::vector<std::string>{"ALTER TABLE flowguard.flows DROP PARTITION 20251024",
                                            "ALTER TABLE flowguard.flows_1m DROP PARTITION 20251116",
                                            "ALTER TABLE flowguard.flows_1h DROP PARTITION 20241123"});
    CHECK(clickhouse_partitions_query(config).find("table IN ('flows', 'flows_1m', 'flows_5m', 'flows_1h')") !=
          std::string::npos);
}

TEST_CASE("clickhouse sink: the schema first, then batches by size and by interval") {
    ClickHouseConfig c;
    c.batch_flows = 100;
    c.batch_interval_ns = 5 * kSecond;
    Harness h(c);
    auto sink = h.open();
    send(*sink, records(250));  // two full batches at once, 50 rows wait for the interval
    REQUIRE(advance_until(h, *sink, 0, [&] { return h.server.inserts() == 2; }));
    CHECK(h.server.creates() == 8);
    CHECK(h.server.received() == numbers(0, 200));
    REQUIRE(advance_until(h, *sink, kSecond, [&] { return h.server.inserts() == 3; }));
    CHECK(h.server.received() == numbers(0, 250));
    sink->stop();
    const auto s = sink->stats();
    CHECK(s.flows_inserted == 250);
    CHECK(s.inserts == 3);
    CHECK(s.up == 1);
    CHECK(s.flows_buffered == 0);
}

TEST_CASE("clickhouse sink: a server that is down gets the batches later, in order, once each") {
    ClickHouseConfig c;
    c.batch_flows = 100;
    c.batch_interval_ns = kSecond;
    Harness h(c);
    h.server.set_down(true);
    auto sink = h.open();
    send(*sink, records(150));
    REQUIRE(advance_until(h, *sink, kSecond, [&] { return sink->stats().request_errors >= 3; }));
    send(*sink, records(100, 150));
    REQUIRE(advance_until(h, *sink, 0, [&] { return sink->stats().flows_buffered == 250; }));
    CHECK(sink->stats().up == 0);
    h.server.set_down(false);
    REQUIRE(advance_until(h, *sink, 10 * kSecond, [&] { return h.server.received().size() == 250; }));
    CHECK(h.server.received() == numbers(0, 250));
    sink->stop();
    CHECK(sink->stats().flows_inserted == 250);
    CHECK(sink->stats().flows_dropped == 0);
}

TEST_CASE("clickhouse sink: a server that lost the tables gets the schema again") {
    ClickHouseConfig c;
    c.batch_flows = 10;
    Harness h(c);
    auto sink = h.open();
    send(*sink, records(10));
    REQUIRE(advance_until(h, *sink, 0, [&] { return h.server.inserts() == 1; }));
    h.server.lose_schema();
    send(*sink, records(10, 10));
    REQUIRE(advance_until(h, *sink, kSecond, [&] { return h.server.inserts() == 2; }));
    CHECK(h.server.creates() == 16);
    CHECK(h.server.received() == numbers(0, 20));
}

TEST_CASE("clickhouse sink: beyond half the memory the spool holds the oldest batches, across a restart") {
    const auto dir = fresh_dir("spool");
    ClickHouseConfig c;
    c.batch_flows = 1000;
    c.batch_interval_ns = kSecond;
    c.max_buffered_flows = 16384;
    c.spool_dir = dir.string();
    Harness h(c);
    h.server.set_down(true);
    auto sink = h.open();
    for (std::uint32_t i = 0; i < 12; ++i) send(*sink, records(1000, i * 1000));
    REQUIRE(advance_until(h, *sink, kSecond, [&] { return sink->stats().flows_spooled >= 4000; }));
    CHECK(sink->stats().flows_buffered <= 8192);
    sink->stop();  // the server is down: memory's batches join the spool at once
    const auto stopped = sink->stats();
    CHECK(stopped.flows_spooled == 12000);
    CHECK(stopped.spool_bytes == 12000 * kClickHouseRowBytes);
    CHECK(stopped.flows_dropped == 0);

    // A half-written file of a crash, and a damaged one: the first is removed, the second set aside.
    { std::ofstream(dir / "00000000000000000099.v1.rowbinary.tmp") << "partial"; }
    { std::ofstream(dir / "00000000000000000098.v1.rowbinary") << "not whole rows"; }
    Harness again(c);
    auto next = again.open();
    REQUIRE(advance_until(again, *next, kSecond, [&] { return again.server.received().size() == 12000; }));
    CHECK(again.server.received() == numbers(0, 12000));  // oldest first
    next->stop();
    CHECK(next->stats().flows_spooled == 0);
    CHECK(fs::exists(dir / "00000000000000000098.v1.rowbinary.bad"));
    CHECK(!fs::exists(dir / "00000000000000000099.v1.rowbinary.tmp"));
    fs::remove_all(dir);
}

TEST_CASE("clickhouse sink: without a spool, what does not fit is dropped and counted") {
    ClickHouseConfig c;
    c.batch_flows = 1000;
    c.max_buffered_flows = 16384;
    Harness h(c);
    h.server.set_down(true);
    auto sink = h.open();
    for (std::uint32_t i = 0; i < 20; ++i) send(*sink, records(1000, i * 1000));
    REQUIRE(advance_until(h, *sink, 0, [&] { return sink->stats().flows_buffered == 16000; }));
    CHECK(sink->stats().flows_dropped == 4000);
    sink->stop(std::chrono::seconds(0));
    CHECK(sink->stats().flows_dropped == 20000);
    CHECK(sink->stats().flows_inserted == 0);
}

TEST_CASE("clickhouse sink: an idle sink checks the server once a minute, so `up` tells its state") {
    ClickHouseConfig c;
    c.create_schema = false;  // no request at start: only the health check tells
    Harness h(c);
    auto sink = h.open();
    REQUIRE(advance_until(h, *sink, 10 * kSecond, [&] { return sink->stats().up == 1; }));
    CHECK(h.server.statements_seen("SELECT 1") >= 1);
    h.server.set_down(true);
    REQUIRE(advance_until(h, *sink, 10 * kSecond, [&] { return sink->stats().up == 0; }));
    CHECK(sink->stats().request_errors >= 1);
    h.server.set_down(false);
    REQUIRE(advance_until(h, *sink, 10 * kSecond, [&] { return sink->stats().up == 1; }));
    CHECK(h.server.inserts() == 0);
}
