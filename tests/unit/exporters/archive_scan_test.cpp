// Reading the archive back: which files a time window reads, the open interval's file, a file renamed while the
// scan runs, and damaged or foreign files counted rather than fatal.
#include "temp_dirs.hpp"

#include <flowguard/exporters/archive.hpp>
#include <flowguard/exporters/archive_scan.hpp>

#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace flowguard;
using namespace flowguard::exporters;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kSecond = 1'000'000'000;
constexpr std::uint64_t kMinute = 60 * kSecond;
constexpr std::uint64_t kT0 = 1'764'000'000ull * kSecond;  // 2025-11-24T16:00:00Z

fs::path fresh_dir(const std::string& name) {
    const fs::path dir = test::fresh_test_dir("scan", name);
    fs::create_directories(dir);
    return dir;
}

// `count` flows ending at `t` (1 s long), ports numbering them from `first`.
void write_file(const fs::path& path, std::uint64_t t, std::uint16_t first, std::uint16_t count, bool close = true) {
    NfdumpFileWriter w(path.string(), NfdumpCompression::lz4);
    for (std::uint16_t i = 0; i < count; ++i) {
        FlowRecord r;
        r.src_addr = IpAddress::from_v4(0x0a000001);
        r.dst_addr = IpAddress::from_v4(0xc6336407);
        r.src_port = static_cast<std::uint16_t>(first + i);
        r.dst_port = 443;
        r.proto = 6;
        r.packets = 1;
        r.bytes = 100;
        r.etype = kEtherTypeIPv4;
        r.time_flow_start_ns = t - kSecond;
        r.time_flow_end_ns = t;
        r.time_received_ns = t;
        w.append(r);
    }
    if (close) {
        w.close();
    } else {
        w.abandon();  // as a writer that is still running (or died): blocks written, header not final
    }
}

std::vector<std::uint16_t> scanned_ports(ArchiveScan& scan, unsigned threads = 1) {
    std::vector<std::uint16_t> ports;
    scan.run(
        [&](std::span<const FlowRecord> flows) {
            for (const auto& r : flows) ports.push_back(r.src_port);
        },
        {}, {}, threads);
    return ports;
}

}  // namespace

TEST_CASE("a window reads the files whose intervals can hold its flows, oldest first") {
    const auto dir = fresh_dir("window");
    // Six hours of 5-minute files, one flow each, ending a minute into the interval.
    for (int i = 0; i < 72; ++i) {
        const std::uint64_t start = kT0 + static_cast<std::uint64_t>(i) * 5 * kMinute;
        write_file(dir / archive_file_name(start), start + kMinute, static_cast<std::uint16_t>(i), 1);
    }
    CHECK(archive_files({dir.string()}, {}).size() == 72);
    // The second hour, the hour after it (flows exported up to an active timeout late) and the files that
    // closed less than 5 minutes (clock skew) before `from`: starts from 0:55 to 2:55, 25 files.
    const ScanWindow hour{kT0 + 60 * kMinute, kT0 + 120 * kMinute};
    const auto files = archive_files({dir.string()}, hour);
    REQUIRE_FALSE(files.empty());
    CHECK(files.size() == 25);
    CHECK(files.front().start_ns == kT0 + 55 * kMinute);
    CHECK(files.back().start_ns == kT0 + 175 * kMinute);
    // The records themselves are cut to the window exactly.
    ArchiveScan scan({dir.string()}, hour, FlowFilter{});
    const auto ports = scanned_ports(scan);
    CHECK(ports == std::vector<std::uint16_t>{12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23});
    CHECK(scan.counters().flows_read > ports.size());
}

TEST_CASE("the open interval's file is read up to its last whole block, after the complete ones") {
    const auto dir = fresh_dir("open");
    write_file(dir / archive_file_name(kT0), kT0 + kMinute, 0, 3);
    // A running writer has written its full 1 MiB blocks; the block it is filling is still in its memory.
    write_file(dir / "nfcapd.current.4242.0", kT0 + 6 * kMinute, 100, 20'000, false);
    ArchiveScan scan({dir.string()}, {}, FlowFilter::compile("dst port 443"));
    const auto ports = scanned_ports(scan);
    REQUIRE(ports.size() > 3 + 5'000);
    CHECK(ports.size() < 3 + 20'000);
    CHECK(std::vector<std::uint16_t>(ports.begin(), ports.begin() + 4) == std::vector<std::uint16_t>{0, 1, 2, 100});
    CHECK(ports.back() == 100 + ports.size() - 4);
    CHECK(scan.counters().open_files == 1);
    CHECK(scan.counters().files == 2);
}

TEST_CASE("an open file renamed into place between listing and reading is found under its new name") {
    const auto dir = fresh_dir("renamed");
    write_file(dir / archive_file_name(kT0), kT0 + kMinute, 0, 1);
    write_file(dir / "nfcapd.current.4242.0", kT0 + 6 * kMinute, 100, 1);
    ArchiveScan scan({dir.string()}, {}, FlowFilter{});
    REQUIRE(scan.files().size() == 2);
    fs::rename(dir / "nfcapd.current.4242.0", dir / archive_file_name(kT0 + 5 * kMinute));
    CHECK(scanned_ports(scan) == std::vector<std::uint16_t>{0, 100});
    CHECK(scan.counters().unreadable_files == 0);
}

TEST_CASE("foreign, truncated and damaged files are counted and skipped, never fatal") {
    const auto dir = fresh_dir("damaged");
    write_file(dir / archive_file_name(kT0), kT0 + kMinute, 0, 2);
    std::ofstream(dir / archive_file_name(kT0 + 5 * kMinute)) << "not an nfdump file at all, just text\n";
    write_file(dir / archive_file_name(kT0 + 10 * kMinute), kT0 + 11 * kMinute, 10, 2);
    fs::resize_file(dir / archive_file_name(kT0 + 10 * kMinute), 60);  // header and part of a block header
    std::ofstream(dir / "README") << "files that are not nfcapd.* are ignored\n";
    ArchiveScan scan({dir.string()}, {}, FlowFilter{});
    CHECK(scanned_ports(scan) == std::vector<std::uint16_t>{0, 1});
    CHECK(scan.counters().unreadable_files == 1);
    CHECK(scan.counters().damaged_blocks == 1);
    CHECK(scan.files().size() == 3);
}

TEST_CASE("files named directly are read whatever their name; a missing root is an error") {
    const auto dir = fresh_dir("named");
    write_file(dir / "capture.nf", kT0 + kMinute, 7, 1);
    ArchiveScan scan({(dir / "capture.nf").string()}, {}, FlowFilter{});
    CHECK(scanned_ports(scan) == std::vector<std::uint16_t>{7});
    CHECK_THROWS_AS(archive_files({(dir / "nosuch").string()}, {}), std::runtime_error);
}

TEST_CASE("a scan stops early when asked (a listing limit, a closed pipe)") {
    const auto dir = fresh_dir("stop");
    for (int i = 0; i < 4; ++i)
        write_file(dir / archive_file_name(kT0 + static_cast<std::uint64_t>(i) * 5 * kMinute), kT0 + kMinute,
                   static_cast<std::uint16_t>(i), 1);
    ArchiveScan scan({dir.string()}, {}, FlowFilter{});
    int blocks = 0;
    scan.run([&](std::span<const FlowRecord>) { ++blocks; }, {}, [&] { return blocks == 2; });
    CHECK(blocks == 2);
}

TEST_CASE("a filter decided on the record's first elements gives what the whole record gives") {
    const auto dir = fresh_dir("core");
    write_file(dir / archive_file_name(kT0), kT0 + kMinute, 1000, 300);
    // Core-only filters are decided before the rest of a record is parsed; the others after. Same records.
    for (const char* text : {"src port > 1100 and dst port 443", "src port > 1100 and dst port 443 and if 0",
                             "not (src port < 1200) and ipv4", "not (src port < 1200) and ipv4 and as 0"}) {
        ArchiveScan scan({dir.string()}, {}, FlowFilter::compile(text));
        const auto ports = scanned_ports(scan);
        INFO(text);
        CHECK(ports.size() == (std::string_view(text).find("1100") != std::string_view::npos ? 199u : 100u));
        CHECK(scan.counters().flows_read == 300);
    }
}

TEST_CASE("threads read files ahead, yet blocks arrive in file order with the same counts") {
    const auto dir = fresh_dir("threads");
    std::vector<std::uint16_t> expected;
    for (int i = 0; i < 12; ++i) {
        const auto first = static_cast<std::uint16_t>(i * 5000);
        const std::uint16_t count = i % 3 == 0 ? 4'000 : 20;  // some files of several blocks
        write_file(dir / archive_file_name(kT0 + static_cast<std::uint64_t>(i) * 5 * kMinute), kT0 + kMinute, first,
                   count);
        for (std::uint16_t p = 0; p < count; ++p)
            if ((first + p) % 7 != 0) expected.push_back(static_cast<std::uint16_t>(first + p));
    }
    std::ofstream(dir / archive_file_name(kT0 + 60 * kMinute)) << "garbage\n";
    for (unsigned threads : {1u, 2u, 3u, 8u}) {
        ArchiveScan scan({dir.string()}, {}, FlowFilter::compile("dst port 443"));
        std::vector<std::uint16_t> ports;
        scan.run(
            [&](std::span<const FlowRecord> flows) {
                for (const auto& r : flows)
                    if (r.src_port % 7 != 0) ports.push_back(r.src_port);
            },
            {}, {}, threads);
        INFO(threads << " threads");
        CHECK(ports == expected);
        CHECK(scan.counters().files == 12);
        CHECK(scan.counters().unreadable_files == 1);
        CHECK(scan.counters().flows_read == 4 * 4'000 + 8 * 20);
    }
}

TEST_CASE("threads stop when the consumer stops, and find a file renamed mid-scan") {
    const auto dir = fresh_dir("threads-stop");
    for (int i = 0; i < 8; ++i)
        write_file(dir / archive_file_name(kT0 + static_cast<std::uint64_t>(i) * 5 * kMinute), kT0 + kMinute,
                   static_cast<std::uint16_t>(i), 1);
    ArchiveScan stopping({dir.string()}, {}, FlowFilter{});
    int blocks = 0;
    stopping.run([&](std::span<const FlowRecord>) { ++blocks; }, {}, [&] { return blocks == 3; }, 2);
    CHECK(blocks == 3);

    write_file(dir / "nfcapd.current.4242.0", kT0 + 41 * kMinute, 100, 1);
    ArchiveScan renamed({dir.string()}, {}, FlowFilter{});
    fs::rename(dir / "nfcapd.current.4242.0", dir / archive_file_name(kT0 + 40 * kMinute));
    CHECK(scanned_ports(renamed, 2) == std::vector<std::uint16_t>{0, 1, 2, 3, 4, 5, 6, 7, 100});
}

TEST_CASE("unordered scans give every worker its own consumer and every record to exactly one") {
    const auto dir = fresh_dir("unordered");
    for (int i = 0; i < 10; ++i)
        write_file(dir / archive_file_name(kT0 + static_cast<std::uint64_t>(i) * 5 * kMinute), kT0 + kMinute,
                   static_cast<std::uint16_t>(i * 1000), 500);
    for (std::size_t workers : {1u, 2u, 4u}) {
        ArchiveScan scan({dir.string()}, {}, FlowFilter::compile("src port > 2499"));
        std::vector<std::vector<std::uint16_t>> seen(workers);
        std::vector<ArchiveScan::OnFlows> consumers;
        for (auto& mine : seen)
            consumers.emplace_back([&mine](std::span<const FlowRecord> flows) {
                for (const auto& r : flows) mine.push_back(r.src_port);
            });
        std::size_t progress_calls = 0;
        scan.run_unordered(consumers, [&](const ScanProgress&) { ++progress_calls; });
        std::vector<std::uint16_t> all;
        for (const auto& mine : seen) all.insert(all.end(), mine.begin(), mine.end());
        std::sort(all.begin(), all.end());
        INFO(workers << " workers");
        REQUIRE(all.size() == 7 * 500);  // files 3 to 9: ports 3000-3499, ..., 9000-9499
        CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
        CHECK(all.front() == 3000);
        CHECK(scan.counters().flows_read == 5000);
        CHECK(scan.counters().flows_matched == 3500);
        CHECK(scan.counters().files == 10);
        CHECK(progress_calls > 0);
    }
}
