// The archive's files over time, with a clock the test moves (no sleeps): rotation, names, retention by age and
// by size, salvage of a dead writer's file, and the threaded sink the shards write into.
#include "temp_dirs.hpp"

#include <flowguard/exporters/archive.hpp>

#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

using namespace flowguard;
using namespace flowguard::exporters;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kSecond = 1'000'000'000;
constexpr std::uint64_t kMinute = 60 * kSecond;
constexpr std::uint64_t kT0 = 1'764'000'000ull * kSecond;  // 2025-11-24T16:00:00Z, a whole 5-minute interval

fs::path fresh_dir(const std::string& name) {
    return test::fresh_test_dir("archive", name);
}

std::vector<std::string> names(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<FlowRecord> flows(std::size_t count, std::uint64_t t) {
    std::vector<FlowRecord> out(count);
    for (std::size_t i = 0; i < count; ++i) {
        auto& r = out[i];
        r.src_addr = IpAddress::from_v4(0x0A000001u + static_cast<std::uint32_t>(i));
        r.dst_addr = IpAddress::from_v4(0xC6336401u);
        r.proto = 6;
        r.src_port = static_cast<std::uint16_t>(40000 + i % 1000);
        r.dst_port = 443;
        r.bytes = 1000 + i;
        r.packets = 3;
        r.time_flow_start_ns = t - 10 * kSecond;
        r.time_flow_end_ns = t;
        r.time_received_ns = t;
    }
    return out;
}

std::size_t flows_in(const fs::path& file) {
    NfdumpFileReader reader(file.string());
    std::vector<FlowRecord> block;
    std::size_t n = 0;
    while (reader.next(block)) n += block.size();
    return n;
}

}  // namespace

TEST_CASE("archive names: the interval's start in UTC, a suffix when taken; other files are not archive files") {
    CHECK(archive_file_name(kT0) == "nfcapd.202511241600");
    CHECK(archive_file_name(kT0 + 5 * kMinute, 2) == "nfcapd.202511241605-2");
    CHECK(archive_file_start("nfcapd.202511241600") == kT0);
    CHECK(archive_file_start("nfcapd.202511241605-2") == kT0 + 5 * kMinute);
    for (const char* other : {"nfcapd.current.123", ".nfstat", "nfcapd.2025112416", "nfcapd.202511241600.salvage",
                              "nfcapd.202511241600-", "nfcapd.2025112416x0", "flows.json"})
        CHECK_FALSE(archive_file_start(other).has_value());
}

TEST_CASE("archive writer: a file per interval, named by its start, complete when the interval ends") {
    const auto dir = fresh_dir("rotation");
    ArchiveConfig config;
    config.path = dir.string();
    config.interval_ns = 5 * kMinute;
    ArchiveWriter writer(config);
    writer.open(kT0 + 10 * kSecond);
    writer.write(flows(100, kT0 + 20 * kSecond), kT0 + 20 * kSecond);
    writer.tick(kT0 + 4 * kMinute);  // still the first interval
    CHECK(names(dir) == std::vector<std::string>{"nfcapd.current." + std::to_string(::getpid()) + ".1"});
    writer.write(flows(50, kT0 + 5 * kMinute + kSecond), kT0 + 5 * kMinute + kSecond);  // the next interval
    writer.tick(kT0 + 11 * kMinute);  // ends the second; the third starts empty
    writer.close();
    const std::vector<std::string> expected{"nfcapd.202511241600", "nfcapd.202511241605", "nfcapd.202511241610"};
    CHECK(names(dir) == expected);
    CHECK(flows_in(dir / expected[0]) == 100);
    CHECK(flows_in(dir / expected[1]) == 50);
    CHECK(flows_in(dir / expected[2]) == 0);
    const auto s = writer.stats();
    CHECK(s.flows_written == 150);
    CHECK(s.files_written == 3);
    CHECK(s.write_errors == 0);
    // A restart within an interval keeps the earlier file and adds a suffixed one.
    ArchiveWriter again(config);
    again.open(kT0 + 10 * kMinute + 30 * kSecond);
    again.write(flows(7, kT0 + 10 * kMinute + 40 * kSecond), kT0 + 10 * kMinute + 40 * kSecond);
    again.close();
    CHECK(flows_in(dir / "nfcapd.202511241610-1") == 7);
}

TEST_CASE("archive retention: files older than max_age go, then the oldest while the total exceeds max_size") {
    const auto dir = fresh_dir("retention");
    ArchiveConfig config;
    config.path = dir.string();
    config.interval_ns = kMinute;
    config.max_age_ns = 10 * kMinute;
    ArchiveWriter writer(config);
    writer.open(kT0);
    for (std::uint64_t minute = 0; minute < 30; ++minute) {
        const std::uint64_t t = kT0 + minute * kMinute + kSecond;
        writer.write(flows(200, t), t);
    }
    writer.tick(kT0 + 30 * kMinute);
    // Intervals whose end is more than 10 minutes old are gone: minutes 20..29 stay, and the open one.
    auto files = names(dir);
    CHECK(files.size() == 11);
    CHECK(files.front() == archive_file_name(kT0 + 20 * kMinute));
    auto s = writer.stats();
    CHECK(s.files_expired == 20);
    CHECK(s.files_stored == 11);
    CHECK(s.bytes_expired > 0);
    writer.close();

    // By size: a cap of three files' worth keeps the newest three.
    const std::uint64_t one_file = fs::file_size(dir / files.front());
    config.max_age_ns = 0;
    config.max_bytes = 3 * one_file + one_file / 2;
    ArchiveWriter capped(config);
    capped.open(kT0 + 31 * kMinute);
    s = capped.stats();
    CHECK(s.files_expired >= 7);
    CHECK(s.bytes_stored <= config.max_bytes);
    CHECK(names(dir).back().rfind("nfcapd.current.", 0) == 0);
    // The oldest went first: 27, 28 and 29 (full) and 30 (empty, closed at the end) stay beside the open file.
    CHECK(names(dir).front() == "nfcapd.202511241627");
    capped.close();
}

TEST_CASE("archive salvage: a dead writer's current file becomes a complete file of its interval") {
    const auto dir = fresh_dir("salvage");
    fs::create_directories(dir);
    const auto dead = dir / "nfcapd.current.999999999";  // no such pid
    {
        NfdumpFileWriter writer(dead.string(), NfdumpCompression::lz4);
        for (const auto& r : flows(30'000, kT0 + kSecond)) writer.append(r);      // two whole blocks and some
        fs::copy_file(dead, dir / "copy", fs::copy_options::overwrite_existing);  // as the crash left it
    }
    fs::rename(dir / "copy", dead);
    ArchiveConfig config;
    config.path = dir.string();
    ArchiveWriter writer(config);
    writer.open(kT0 + 20 * kMinute);
    writer.close();
    CHECK(writer.stats().files_salvaged == 1);
    CHECK_FALSE(fs::exists(dead));
    const auto recovered = dir / "nfcapd.202511241600";
    REQUIRE(fs::exists(recovered));
    const auto n = flows_in(recovered);
    CHECK(n >= 20'000);  // the whole blocks (~12,000 records each)
    CHECK(n < 30'000);   // not the tail that never left memory
}

TEST_CASE("archive sink: shards' stages hand buffers to the writer thread; a full queue drops and counts") {
    const auto dir = fresh_dir("sink");
    ArchiveConfig config;
    config.path = dir.string();
    config.max_queued_flows = 4096;
    std::atomic<std::uint64_t> now{kT0 + kSecond};
    {
        Archive archive(config, [&] { return now.load(); });
        const auto batch = flows(1000, kT0 + 2 * kSecond);
        auto shard = [&](Stage& stage) {  // as a shard thread does: batches, then a flush after the round
            Alerts alerts;
            for (int i = 0; i < 3; ++i) stage.on_flows(batch, 0, alerts);
            stage.flush(0);
        };
        auto a = archive.stage();
        auto b = archive.stage();
        std::thread first(shard, std::ref(*a));
        std::thread second(shard, std::ref(*b));
        first.join();
        second.join();
        archive.stop();
        const auto s = archive.stats();
        CHECK(s.flows_written + s.flows_dropped == 6000);
        CHECK(s.files_written == 1);
    }
    const auto files = names(dir);
    REQUIRE(files.size() == 1);
    CHECK(flows_in(dir / files[0]) <= 6000);
}
