// DNS events and alerts in the archive, with a clock the test moves: names, gzip members that gzip itself reads,
// rotation with the flow files, retention over both directories, salvage of a crashed writer's file, a full
// disk, and the threaded sink (shards' DNS events, alerts behind the ledger).
#include "temp_dirs.hpp"

#include <flowguard/exporters/archive.hpp>
#include <flowguard/exporters/dns_format.hpp>
#include <flowguard/exporters/event_archive.hpp>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace flowguard;
using namespace flowguard::exporters;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kSec = 1'000'000'000;
constexpr std::uint64_t kMin = 60 * kSec;
constexpr std::uint64_t kStart = 1'764'000'000ull * kSec;  // 2025-11-24T16:00:00Z

struct EventDirs {
    fs::path flows;
    fs::path events;
};

EventDirs fresh_event_dirs(const std::string& name) {
    const fs::path flows = test::fresh_test_dir("events", name);  // its ".events" sibling emptied too
    return {flows, flows.string() + ".events"};
}

std::vector<std::string> listing(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<DnsEvent> responses(std::size_t count, std::uint64_t t) {
    std::vector<DnsEvent> out(count);
    for (std::size_t i = 0; i < count; ++i) {
        auto& e = out[i];
        e.time_ns = t + i;
        e.client = IpAddress::from_v4(0x0A000002u);
        e.server = IpAddress::from_v4(0x0A000035u);
        e.response = true;
        e.qtype = 1;
        e.id = static_cast<std::uint16_t>(i);
        e.qname.assign("host" + std::to_string(i) + ".example.com");
        e.address_count = 1;
        e.addresses[0] = IpAddress::from_v4(0xC6336400u + static_cast<std::uint32_t>(i % 200));
        e.ttls[0] = 300;
        e.min_ttl = 300;
    }
    return out;
}

std::vector<std::string> lines_of(const fs::path& file) {
    std::vector<std::string> out;
    read_event_file(file.string(), [&](std::string_view line) { out.emplace_back(line); });
    return out;
}

std::string gunzip(const fs::path& file) {  // gzip(1) itself: the files are for standard tools too
    std::string text;
    FILE* pipe = ::popen(("gzip -dc '" + file.string() + "' 2>/dev/null").c_str(), "r");
    REQUIRE(pipe != nullptr);
    char buffer[4096];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) text.append(buffer, n);
    CHECK(::pclose(pipe) == 0);
    return text;
}

ArchiveConfig config_for(const EventDirs& dirs) {
    ArchiveConfig config;
    config.path = dirs.flows.string();
    config.interval_ns = 5 * kMin;
    return config;
}

}  // namespace

TEST_CASE("event archive names: kind and interval start; open files carry the writer's pid") {
    CHECK(event_file_name(EventKind::dns, kStart) == "dns.202511241600.jsonl.gz");
    CHECK(event_file_name(EventKind::alerts, kStart + 5 * kMin, 1) == "alerts.202511241605-1.jsonl.gz");
    auto info = event_file_info("alerts.202511241605-1.jsonl.gz");
    REQUIRE(info);
    CHECK(info->kind == EventKind::alerts);
    CHECK(info->start_ns == kStart + 5 * kMin);
    CHECK_FALSE(info->open);
    info = event_file_info("dns.202511241600.current.4242.3");
    REQUIRE(info);
    CHECK(info->open);
    CHECK(info->pid == 4242);
    CHECK(info->start_ns == kStart);
    for (const char* other :
         {"nfcapd.202511241600", "dns.2025112416.jsonl.gz", "flows.202511241600.jsonl.gz", "dns.202511241600.jsonl",
          "dns.202511241600.current.", "dns.202511241600.current.x.1", "dns.202511241600.jsonl.gz.tmp"})
        CHECK_FALSE(event_file_info(other).has_value());
    ArchiveConfig config;
    config.path = "/var/lib/flowguard/archive/";
    CHECK(archive_events_path(config) == "/var/lib/flowguard/archive.events");
    config.events_path = "/srv/events";
    CHECK(archive_events_path(config) == "/srv/events");
    CHECK(same_directory("/srv/flows/", "/srv/flows"));
    CHECK(same_directory("/srv/x/../flows", "/srv/flows"));
    CHECK_FALSE(same_directory("/srv/flows.events", "/srv/flows"));
}

TEST_CASE("event archive writer: DNS events and alerts in gzip files rotated with the flow files") {
    const auto dirs = fresh_event_dirs("rotation");
    ArchiveWriter writer(config_for(dirs));
    writer.open(kStart + 10 * kSec);
    const auto first = responses(500, kStart + 20 * kSec);
    writer.write_dns(first, kStart + 20 * kSec);
    writer.write_alerts(std::vector<std::string>{R"({"kind":"beacon","n":1})", R"({"kind":"ioc_domain","n":2})"},
                        kStart + 21 * kSec);
    writer.tick(kStart + 22 * kSec);  // alerts leave at once; DNS events wait for their member
    auto s = writer.stats();
    CHECK(s.alerts_written == 2);
    CHECK(s.dns_written == 0);
    writer.tick(kStart + 51 * kSec);  // 30 s later: the DNS member too
    CHECK(writer.stats().dns_written == 500);
    writer.write_dns(responses(20, kStart + 5 * kMin + kSec), kStart + 5 * kMin + kSec);  // the next interval
    writer.close();
    const std::vector<std::string> expected{"alerts.202511241600.jsonl.gz", "dns.202511241600.jsonl.gz",
                                            "dns.202511241605.jsonl.gz"};
    CHECK(listing(dirs.events) == expected);
    const auto dns = lines_of(dirs.events / expected[1]);
    REQUIRE(dns.size() == 500);
    fmt::memory_buffer line;
    append_dns_json(line, first[7]);
    CHECK(dns[7] + "\n" == fmt::to_string(line));  // as `meter --dns-log` writes it
    CHECK(lines_of(dirs.events / expected[2]).size() == 20);
    CHECK(gunzip(dirs.events / expected[0]) == "{\"kind\":\"beacon\",\"n\":1}\n{\"kind\":\"ioc_domain\",\"n\":2}\n");
    std::string whole;
    for (const auto& l : dns) whole += l + "\n";
    CHECK(gunzip(dirs.events / expected[1]) == whole);
    s = writer.stats();
    CHECK(s.dns_written == 520);
    CHECK(s.events_lost == 0);
    CHECK(s.write_errors == 0);
    // Three flow files (two intervals, the second closed at stop) and three event files.
    CHECK(s.files_written == 5);
}

TEST_CASE("event archive: a member at most 1 MiB of lines, each readable alone after a crash") {
    const auto dirs = fresh_event_dirs("members");
    fs::create_directories(dirs.events);
    const auto dead = dirs.events / "dns.202511241600.current.999999999.4";  // no such pid
    EventFileWriter file(dirs.events.string(), EventKind::dns, 30 * kSec, 64 * 1024);
    file.start(kStart, 1);
    std::string first_half;
    std::string second_half;
    for (int i = 0; i < 5000; ++i)
        (i < 2500 ? first_half : second_half) += "{\"line\":" + std::to_string(i) + ",\"pad\":\"abcdefghij\"}\n";
    file.add(first_half, 2500, kStart);  // over 64 KiB: a member
    CHECK(file.lines_waiting() == 0);
    file.add("{\"line\":\"waiting\"}\n", 1, kStart);  // in memory only: lost in the crash
    const auto on_disk = file.bytes_written();
    CHECK(on_disk > 0);
    const auto path = dirs.events / ("dns.202511241600.current." + std::to_string(::getpid()) + ".1");
    CHECK(fs::file_size(path) == on_disk);
    // As if the process died while writing its next member: half a member of garbage-free gzip after it.
    file.abandon();
    fs::rename(path, dead);
    {
        EventFileWriter other(dirs.events.string(), EventKind::dns, 30 * kSec);
        other.start(kStart, 2);
        other.add(second_half, 2500, kStart);
        other.finish();
    }
    const auto complete = dirs.events / "dns.202511241600.jsonl.gz";
    const auto bytes = fs::file_size(complete);
    {
        std::ifstream in(complete, std::ios::binary);
        std::string member(bytes, '\0');
        in.read(member.data(), static_cast<std::streamsize>(bytes));
        std::ofstream out(dead, std::ios::binary | std::ios::app);
        out.write(member.data(), static_cast<std::streamsize>(bytes / 2));
    }
    fs::remove(complete);
    const auto salvaged = salvage_event_files(dirs.events.string());
    REQUIRE(salvaged.size() == 1);
    CHECK(salvaged[0].cut);
    CHECK(salvaged[0].into == complete.string());
    CHECK(salvaged[0].lines == 2500);
    CHECK(fs::file_size(complete) == on_disk);  // cut back to its whole members
    const auto kept = lines_of(complete);
    CHECK(kept.size() == 2500);  // the first half: every whole line of the whole members
    CHECK(kept.front() == "{\"line\":0,\"pad\":\"abcdefghij\"}");
    CHECK(kept.back() == "{\"line\":2499,\"pad\":\"abcdefghij\"}");
    CHECK(gunzip(complete) == first_half);
}

TEST_CASE("event archive: the writer salvages at open; retention takes both directories as one archive") {
    const auto dirs = fresh_event_dirs("retention");
    auto config = config_for(dirs);
    config.interval_ns = kMin;
    {
        ArchiveWriter writer(config);
        writer.open(kStart);
        for (std::uint64_t minute = 0; minute < 10; ++minute) {
            const std::uint64_t t = kStart + minute * kMin + kSec;
            writer.write_dns(responses(2000, t), t);
            writer.write_alerts(std::vector<std::string>{"{\"minute\":" + std::to_string(minute) + "}"}, t);
        }
        writer.close();
    }
    std::uint64_t total = 0;
    for (const auto* dir : {&dirs.flows, &dirs.events})
        for (const auto& e : fs::directory_iterator(*dir)) total += fs::file_size(e.path());
    CHECK(listing(dirs.events).size() == 20);
    // A cap of half of it: the oldest minutes go, event files and flow files alike, oldest first.
    config.max_bytes = total / 2;
    ArchiveWriter capped(config);
    capped.open(kStart + 11 * kMin);
    const auto s = capped.stats();
    CHECK(s.files_expired >= 8);                       // the DNS files make most of the bytes: about half of them go
    CHECK(s.bytes_stored <= config.max_bytes + 1024);  // the new interval's flow file begins after retention
    const auto left = listing(dirs.events);
    CHECK(left.size() < 20);
    CHECK(std::find(left.begin(), left.end(), "dns.202511241609.jsonl.gz") != left.end());
    CHECK(std::find(left.begin(), left.end(), "dns.202511241600.jsonl.gz") == left.end());
    capped.close();
    // By age: intervals that ended more than 3 minutes ago (at 12:00 minute 9 ended 2 minutes ago).
    config.max_bytes = 0;
    config.max_age_ns = 3 * kMin;
    ArchiveWriter aged(config);
    aged.open(kStart + 12 * kMin);
    aged.close();
    CHECK(listing(dirs.events) ==
          std::vector<std::string>{"alerts.202511241609.jsonl.gz", "dns.202511241609.jsonl.gz"});
}

TEST_CASE("event archive: a full disk loses the waiting lines, counted and logged; the next file works") {
    const auto dirs = fresh_event_dirs("full");
    ArchiveWriter writer(config_for(dirs));
    writer.open(kStart);
    // The next file the writer opens (its second: the first is the flow file) is /dev/full.
    fs::create_symlink("/dev/full", dirs.events / ("dns.202511241600.current." + std::to_string(::getpid()) + ".2"));
    writer.write_dns(responses(100, kStart + kSec), kStart + kSec);
    writer.tick(kStart + 40 * kSec);
    auto s = writer.stats();
    CHECK(s.events_lost == 100);
    CHECK(s.dns_written == 0);
    CHECK(s.write_errors >= 1);
    writer.write_dns(responses(10, kStart + 50 * kSec), kStart + 50 * kSec);  // a new file of the same interval
    writer.close();
    s = writer.stats();
    CHECK(s.dns_written == 10);
    CHECK(lines_of(dirs.events / "dns.202511241600.jsonl.gz").size() == 10);
}

TEST_CASE("event archive sink: DNS events from the shards' stages and alerts from the ledger, queues bounded") {
    const auto dirs = fresh_event_dirs("sink");
    auto config = config_for(dirs);
    config.max_queued_events = 256;
    std::atomic<std::uint64_t> now{kStart + kSec};
    Archive archive(config, [&] { return now.load(); });
    auto stage = archive.stage();
    CHECK(stage->wants_dns());
    REQUIRE(archive.alert_sink() != nullptr);
    Alerts none;
    const auto events = responses(200, kStart + kSec);
    stage->on_dns(events, 0, none);
    stage->flush(0);
    Alert alert;
    alert.id = "beacon:10.0.0.2@1764000001";
    alert.kind = "beacon";
    alert.src_addr = IpAddress::from_v4(0x0A000002u);
    alert.first_seen_ns = alert.last_seen_ns = alert.raised_ns = kStart + kSec;
    archive.alert_sink()->publish(std::vector<Alert>{alert});
    // A burst beyond the queue while the writer may be busy: what does not fit is dropped and counted.
    for (int i = 0; i < 20; ++i) {
        stage->on_dns(events, 0, none);
        stage->flush(0);
    }
    archive.stop();
    const auto s = archive.stats();
    CHECK(s.alerts_written == 1);
    CHECK(s.dns_written + s.events_dropped == 21 * 200);
    CHECK(s.dns_written >= 200);
    const auto alerts = lines_of(dirs.events / "alerts.202511241600.jsonl.gz");
    REQUIRE(alerts.size() == 1);
    const auto parsed = boost::json::parse(alerts[0]).as_object();
    CHECK(parsed.at("kind").as_string() == "beacon");
    CHECK(parsed.at("id").as_string() == "beacon:10.0.0.2@1764000001");
    // Without archive.events: no DNS asked of the shards, no alert sink, no events directory.
    const auto plain = fresh_event_dirs("plain");
    auto off = config_for(plain);
    off.events = false;
    Archive flows_only(off, [&] { return now.load(); });
    CHECK_FALSE(flows_only.stage()->wants_dns());
    CHECK(flows_only.alert_sink() == nullptr);
    flows_only.stop();
    CHECK_FALSE(fs::exists(plain.events));
}

TEST_CASE("event archive scan: files that can hold the window, oldest first, open files of running writers too") {
    const auto dirs = fresh_event_dirs("scan");
    auto config = config_for(dirs);
    ArchiveWriter writer(config);
    writer.open(kStart);
    for (std::uint64_t interval = 0; interval < 4; ++interval) {
        const auto t = kStart + interval * 5 * kMin + kSec;
        writer.write_alerts(std::vector<std::string>{"{\"interval\":" + std::to_string(interval) + "}"}, t);
    }
    writer.tick(kStart + 15 * kMin + 2 * kSec);  // the last interval's file stays open, its member written
    std::vector<std::string> seen;
    const auto counters = scan_event_archive(dirs.events.string(), EventKind::alerts, kStart + 5 * kMin,
                                             kStart + 20 * kMin, [&](std::string_view l) { seen.emplace_back(l); });
    // An interval is at most a day: every file from a day before the window is a candidate (lines carry times).
    CHECK(seen ==
          std::vector<std::string>{"{\"interval\":0}", "{\"interval\":1}", "{\"interval\":2}", "{\"interval\":3}"});
    CHECK(counters.files == 4);
    CHECK(counters.damaged_files == 0);
    seen.clear();
    scan_event_archive(dirs.events.string(), EventKind::alerts, kStart, kStart + 10 * kMin,
                       [&](std::string_view l) { seen.emplace_back(l); });
    CHECK(seen.size() == 4);  // lines reach files late: files of the hour after the window are read too
    seen.clear();
    scan_event_archive(dirs.events.string(), EventKind::alerts, kStart - 3 * 3600 * kSec, kStart - 3601 * kSec,
                       [&](std::string_view l) { seen.emplace_back(l); });
    CHECK(seen.empty());  // files starting an hour or more after the window's end are not
    CHECK(scan_event_archive(dirs.events.string(), EventKind::alerts, 0, UINT64_MAX, [](std::string_view) {}).lines ==
          4);  // no --from, no --to
    CHECK(scan_event_archive(dirs.events.string(), EventKind::dns, kStart, kStart + 20 * kMin, [](std::string_view) {
          }).files == 0);
    writer.close();
}

TEST_CASE("event archive read: foreign, empty, cut and randomly corrupted files are counted, never a crash") {
    const auto dirs = fresh_event_dirs("hostile");
    fs::create_directories(dirs.events);
    std::string text;
    for (int i = 0; i < 3000; ++i) text += "{\"time_ns\":" + std::to_string(kStart + i) + ",\"qname\":\"a.example\"}\n";
    {
        EventFileWriter file(dirs.events.string(), EventKind::dns, 30 * kSec, 16 * 1024);
        file.start(kStart, 1);
        file.add(text, 3000, kStart);
        file.finish();
    }
    const auto good = dirs.events / "dns.202511241600.jsonl.gz";
    std::string bytes(fs::file_size(good), '\0');
    std::ifstream(good, std::ios::binary).read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    const auto write = [&](const std::string& name, std::string_view data) {
        std::ofstream(dirs.events / name, std::ios::binary)
            .write(data.data(), static_cast<std::streamsize>(data.size()));
    };
    write("dns.202511241605.jsonl.gz", "not gzip at all\n");
    write("dns.202511241610.jsonl.gz", "");
    write("dns.202511241615.jsonl.gz", std::string_view(bytes).substr(0, bytes.size() / 2));
    std::uint64_t lines = 0;
    const auto counters = scan_event_archive(dirs.events.string(), EventKind::dns, kStart, kStart + kMin,
                                             [&](std::string_view) { ++lines; });
    CHECK(counters.files == 4);
    CHECK(counters.damaged_files == 2);  // the foreign one and the cut one (an empty file is just empty)
    CHECK(lines > 3000);                 // the good file's and the whole lines before the cut
    CHECK(lines < 6000);
    // A line of 3 MiB without a newline (from a few kB of gzip) is skipped, not kept in memory.
    {
        EventFileWriter file(dirs.events.string(), EventKind::dns, 30 * kSec);
        file.start(kStart + 30 * kMin, 9);
        file.add(std::string(3u << 20, 'x') + "\n{\"after\":1}\n", 2, kStart);
        file.finish();
    }
    std::vector<std::string> kept;
    const auto long_line = read_event_file((dirs.events / "dns.202511241630.jsonl.gz").string(),
                                           [&](std::string_view line) { kept.emplace_back(line); });
    CHECK(long_line.damaged);
    CHECK(kept == std::vector<std::string>{"{\"after\":1}"});
    CHECK(long_line.lines == 2);
    // Random corruption: whatever the bytes, reading ends with counted damage or whole lines, never a crash.
    std::mt19937 random(7);
    for (int round = 0; round < 200; ++round) {
        std::string broken = bytes;
        for (int flips = 0; flips < 1 + round % 8; ++flips)
            broken[random() % broken.size()] = static_cast<char>(random());
        write("dns.202511241620.jsonl.gz", broken);
        const auto read =
            read_event_file((dirs.events / "dns.202511241620.jsonl.gz").string(), [](std::string_view) {});
        CHECK(read.complete_bytes <= broken.size());
        // Undetected only where gzip checks nothing (a member header's time or OS byte): then every line.
        if (!read.damaged && !read.incomplete) CHECK(read.lines == 3000);
    }
}
