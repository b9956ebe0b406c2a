// nfdump's file format: flowguard's writer and reader against each other, against damage, and against the
// real nfdump (the peer test case runs only from CTest's nfdump_file_peer, where nfdump is installed).
#include <flowguard/exporters/flow_filter.hpp>
#include <flowguard/exporters/nfdump_file.hpp>

#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace flowguard;
using namespace flowguard::exporters;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kT0 = 1'700'000'000'000ull * kMs;

fs::path scratch(const std::string& name) {
    const fs::path dir = fs::temp_directory_path() / ("flowguard-nfdump-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    return dir / name;
}

// A varied mix: v4 and v6, TCP/UDP/ICMP/other, exporters of every type, optional fields set now and then.
std::vector<FlowRecord> mixed_flows(std::size_t count, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<FlowRecord> flows;
    const IpAddress exporters[] = {*IpAddress::parse("192.0.2.1"), *IpAddress::parse("192.0.2.2"),
                                   *IpAddress::parse("2001:db8::1")};
    const FlowType types[] = {FlowType::netflow_v5, FlowType::netflow_v9, FlowType::ipfix};
    for (std::size_t i = 0; i < count; ++i) {
        FlowRecord r;
        const auto e = rng() % 3;
        r.sampler_address = exporters[e];
        r.type = types[e];
        r.observation_domain_id = static_cast<std::uint32_t>(e * 7);
        r.time_received_ns = kT0 + i * 1000 * kMs;
        r.time_flow_start_ns = kT0 + (i * 997 + rng() % 500) * kMs;
        r.time_flow_end_ns = r.time_flow_start_ns + (rng() % 60'000) * kMs;
        r.packets = 1 + rng() % 5000;
        r.bytes = r.packets * (40 + rng() % 1460);
        if (rng() % 5 == 0) {
            std::uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8};
            a[15] = static_cast<std::uint8_t>(rng());
            r.src_addr = IpAddress::from_v6_bytes(a);
            a[15] = static_cast<std::uint8_t>(rng());
            a[7] = 9;
            r.dst_addr = IpAddress::from_v6_bytes(a);
            r.etype = kEtherTypeIPv6;
        } else {
            r.src_addr = IpAddress::from_v4(static_cast<std::uint32_t>(0x0A000000u + rng() % 65536));
            r.dst_addr = IpAddress::from_v4(static_cast<std::uint32_t>(0xC6336400u + rng() % 256));
            r.etype = kEtherTypeIPv4;
        }
        const std::uint8_t protos[] = {6, 6, 17, 1, 47};
        r.proto = protos[rng() % 5];
        if (r.is_icmp()) {
            r.icmp_type = 8;
            r.icmp_code = static_cast<std::uint8_t>(rng() % 3);
            r.dst_port = static_cast<std::uint16_t>(r.icmp_type << 8 | r.icmp_code);
        } else if (r.proto != 47) {
            r.src_port = static_cast<std::uint16_t>(1024 + rng() % 60000);
            r.dst_port = static_cast<std::uint16_t>(rng() % 2 ? 443 : 53);
        }
        r.tcp_flags = r.proto == 6 ? static_cast<std::uint8_t>(rng() % 64) : 0;
        r.ip_tos = static_cast<std::uint8_t>(rng() % 4 * 8);
        if (rng() % 2) {
            r.in_if = static_cast<std::uint32_t>(1 + rng() % 48);
            r.out_if = static_cast<std::uint32_t>(1 + rng() % 48);
            r.src_mask = 24;
            r.dst_mask = 16;
            r.direction = FlowDirection::ingress;
        }
        if (rng() % 4 == 0) {
            r.src_as = 64512;
            r.dst_as = 15169;
            r.next_hop = IpAddress::from_v4(0xC0000201u);
        }
        if (rng() % 8 == 0) r.sampling_rate = 1000;
        if (rng() % 8 == 0) {
            r.src_vlan = 10;
            r.dst_vlan = 20;
            r.src_mac = 0x0000'0011'2233'4455ull;
            r.dst_mac = 0x0000'66aa'bbcc'ddeeull;
        }
        flows.push_back(r);
    }
    return flows;
}

std::vector<FlowRecord> read_all(const fs::path& path, NfdumpReadCounters* counters = nullptr) {
    NfdumpFileReader reader(path.string());
    std::vector<FlowRecord> all, block;
    while (reader.next(block)) all.insert(all.end(), block.begin(), block.end());
    if (counters) *counters = reader.counters();
    return all;
}

void check_same(const FlowRecord& a, const FlowRecord& b) {
    CHECK(a.time_flow_start_ns == b.time_flow_start_ns);
    CHECK(a.time_flow_end_ns == b.time_flow_end_ns);
    CHECK(a.time_received_ns == b.time_received_ns);
    CHECK(a.src_addr == b.src_addr);
    CHECK(a.dst_addr == b.dst_addr);
    CHECK(a.proto == b.proto);
    CHECK(a.src_port == b.src_port);
    CHECK(a.dst_port == b.dst_port);
    CHECK(a.icmp_type == b.icmp_type);
    CHECK(a.icmp_code == b.icmp_code);
    CHECK(a.bytes == b.bytes);
    CHECK(a.packets == b.packets);
    CHECK(a.tcp_flags == b.tcp_flags);
    CHECK(a.ip_tos == b.ip_tos);
    CHECK(a.in_if == b.in_if);
    CHECK(a.out_if == b.out_if);
    CHECK(a.src_mask == b.src_mask);
    CHECK(a.dst_mask == b.dst_mask);
    CHECK(a.src_as == b.src_as);
    CHECK(a.dst_as == b.dst_as);
    CHECK(a.next_hop == b.next_hop);
    CHECK(a.src_vlan == b.src_vlan);
    CHECK(a.dst_vlan == b.dst_vlan);
    CHECK(a.src_mac == b.src_mac);
    CHECK(a.dst_mac == b.dst_mac);
    CHECK(a.sampling_rate == b.sampling_rate);
    CHECK(a.sampler_address == b.sampler_address);
    CHECK(a.observation_domain_id == b.observation_domain_id);
    CHECK(a.type == b.type);
    CHECK(a.etype == b.etype);
}

}  // namespace

TEST_CASE("nfdump file: what the writer wrote, the reader reads back, over many blocks, with its statistics") {
    const auto path = scratch("roundtrip.nf");
    const auto flows = mixed_flows(40'000, 1);  // ~3 MB of records: several 1 MiB blocks
    for (const auto compression : {NfdumpCompression::lz4, NfdumpCompression::none}) {
        CAPTURE(static_cast<int>(compression));
        NfdumpFileStats written;
        {
            NfdumpFileWriter writer(path.string(), compression, "flowguard-test");
            for (const auto& f : flows) writer.append(f);
            writer.close();
            written = writer.stats();
            if (compression == NfdumpCompression::lz4)
                CHECK(writer.bytes_written() < flows.size() * 60);  // ~90 B per record before LZ4
        }
        NfdumpReadCounters counters;
        const auto back = read_all(path, &counters);
        REQUIRE(back.size() == flows.size());
        for (std::size_t i = 0; i < flows.size(); i += 37) check_same(back[i], flows[i]);
        CHECK(counters.blocks >= 3);
        CHECK(counters.damaged_blocks == 0);
        CHECK_FALSE(counters.unclosed);
        NfdumpFileReader reader(path.string());
        REQUIRE(reader.stats().has_value());
        CHECK(reader.stats()->flows == flows.size());
        CHECK(reader.stats()->bytes == written.bytes);
        CHECK(reader.stats()->flows_tcp + reader.stats()->flows_udp + reader.stats()->flows_icmp +
                  reader.stats()->flows_other ==
              flows.size());
        CHECK(reader.ident() == "flowguard-test");
    }
}

TEST_CASE("nfdump file: read for core fields only, records carry exactly the generic flow and addresses") {
    const auto path = scratch("core.nf");
    const auto flows = mixed_flows(20'000, 3);
    {
        NfdumpFileWriter writer(path.string(), NfdumpCompression::lz4);
        for (const auto& f : flows) writer.append(f);
        writer.close();
    }
    auto read = [&](const FlowFilter* keep) {
        NfdumpFileReader reader(path.string());
        reader.read_core_fields_only();
        std::vector<FlowRecord> all, block;
        while (reader.next(block, keep)) all.insert(all.end(), block.begin(), block.end());
        CHECK(reader.counters().records == flows.size());
        return all;
    };
    // What the reader kept for `filter`, and what it should have: the written flows the filter matches.
    auto read_matching = [&](const FlowFilter& filter) {
        auto matched = read(&filter);
        std::vector<FlowRecord> want;
        for (const auto& f : flows)
            if (filter.matches(f)) want.push_back(f);
        REQUIRE(matched.size() == want.size());
        REQUIRE(!want.empty());
        return std::pair{std::move(matched), std::move(want)};
    };
    auto check_core = [](const FlowRecord& got, const FlowRecord& want) {
        CHECK(got.time_flow_start_ns == want.time_flow_start_ns);
        CHECK(got.time_flow_end_ns == want.time_flow_end_ns);
        CHECK(got.src_addr == want.src_addr);
        CHECK(got.dst_addr == want.dst_addr);
        CHECK(got.src_port == want.src_port);
        CHECK(got.dst_port == want.dst_port);
        CHECK(got.proto == want.proto);
        CHECK(got.icmp_type == want.icmp_type);  // not the last ICMP flow's: one scratch record serves them all
        CHECK(got.icmp_code == want.icmp_code);
        CHECK(got.packets == want.packets);
        CHECK(got.bytes == want.bytes);
        CHECK(got.tcp_flags == want.tcp_flags);
        CHECK(got.ip_tos == want.ip_tos);
    };
    SUBCASE("every record, no filter") {
        const auto all = read(nullptr);
        REQUIRE(all.size() == flows.size());
        for (std::size_t i = 0; i < flows.size(); ++i) check_core(all[i], flows[i]);
        // What the rest of the record holds is not parsed.
        const auto with_interfaces =
            std::find_if(flows.begin(), flows.end(), [](const FlowRecord& f) { return f.in_if != 0; });
        REQUIRE(with_interfaces != flows.end());
        CHECK(all[static_cast<std::size_t>(with_interfaces - flows.begin())].in_if == 0);
        CHECK(std::all_of(all.begin(), all.end(), [](const FlowRecord& r) { return r.sampler_address.empty(); }));
    }
    SUBCASE("a filter on core fields: its matches, core fields only") {
        const auto filter = FlowFilter::compile("proto tcp and dst port 443");
        const auto [matched, want] = read_matching(filter);
        for (std::size_t i = 0; i < want.size(); ++i) check_core(matched[i], want[i]);
    }
    SUBCASE("a filter that reads more: whole records") {
        const auto filter = FlowFilter::compile("in if 3 or exporter 192.0.2.2");
        const auto [matched, want] = read_matching(filter);
        for (std::size_t i = 0; i < want.size(); ++i) check_same(matched[i], want[i]);
    }
}

TEST_CASE("nfdump file: a writer that died leaves whole blocks readable; a cut block ends the read, counted") {
    const auto path = scratch("crashed.nf");
    const auto flows = mixed_flows(30'000, 2);
    std::uint64_t complete_bytes = 0;
    {
        NfdumpFileWriter writer(path.string(), NfdumpCompression::lz4);
        for (const auto& f : flows) writer.append(f);
        complete_bytes = writer.bytes_written();  // the blocks written so far; the last one is still in memory
        // No close(): copy the file as a crash would leave it (header still saying 0 blocks).
        fs::copy_file(path, scratch("crashed-copy.nf"), fs::copy_options::overwrite_existing);
    }
    const auto copy = scratch("crashed-copy.nf");
    NfdumpReadCounters counters;
    const auto back = read_all(copy, &counters);
    CHECK(counters.unclosed);
    CHECK(counters.damaged_blocks == 0);
    CHECK(back.size() > 0);
    CHECK(back.size() < flows.size());
    for (std::size_t i = 0; i < back.size(); i += 101) check_same(back[i], flows[i]);
    // The same file cut in the middle of its last block: the blocks before it, and the damage counted.
    fs::resize_file(copy, complete_bytes - 1000);
    const auto cut = read_all(copy, &counters);
    CHECK(counters.damaged_blocks == 1);
    CHECK(cut.size() < back.size());
    for (std::size_t i = 0; i < cut.size(); i += 101) check_same(cut[i], flows[i]);
}

TEST_CASE("nfdump file: garbage, foreign and hostile files are refused or counted, never a crash") {
    const auto path = scratch("hostile.nf");
    { std::ofstream(path, std::ios::binary) << "not an nfdump file at all, just text long enough"; }
    CHECK_THROWS_WITH_AS(NfdumpFileReader(path.string()), doctest::Contains("bad magic"), std::runtime_error);
    CHECK_THROWS_AS(NfdumpFileReader(scratch("missing.nf").string()), std::system_error);
    // A valid file whose data is then overwritten with random bytes, at every offset class.
    const auto flows = mixed_flows(5'000, 3);
    std::mt19937 rng(4);
    for (int round = 0; round < 200; ++round) {
        {
            NfdumpFileWriter writer(path.string(), round % 2 ? NfdumpCompression::none : NfdumpCompression::lz4);
            for (const auto& f : flows) writer.append(f);
        }
        const auto size = fs::file_size(path);
        std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
        for (int hit = 0; hit < 1 + round % 8; ++hit) {
            file.seekp(static_cast<std::streamoff>(40 + rng() % (size - 40)));
            const char noise[4] = {static_cast<char>(rng()), static_cast<char>(rng()), static_cast<char>(rng()),
                                   static_cast<char>(rng())};
            file.write(noise, sizeof noise);
        }
        file.close();
        NfdumpReadCounters counters;
        const auto back = read_all(path, &counters);  // must return, whatever it decided
        CHECK(back.size() <= flows.size() + 1);
    }
}

TEST_CASE("nfdump file: the real nfdump reads flowguard's file; flowguard reads nfdump's" * doctest::skip()) {
    // Run by CTest's nfdump_file_peer (label peers): `nfdump -r` on a flowguard file must print every flow
    // with the same addresses, ports, protocol, packets and bytes; `nfdump -w` rewriting it (nfdump's own
    // writer, LZ4 and uncompressed) must come back through flowguard's reader unchanged.
    const auto ours = scratch("ours.nf");
    auto flows = mixed_flows(3'000, 5);
    {
        NfdumpFileWriter writer(ours.string(), NfdumpCompression::lz4);
        for (const auto& f : flows) writer.append(f);
    }
    const std::string csv = scratch("nfdump.csv").string();
    const std::string command = "nfdump -q -N -r " + ours.string() +
                                " -o 'fmt:%sa|%da|%sp|%dp|%pr|%ipkt|%ibyt|%ra|%in|%out' > " + csv + " 2>&1";
    REQUIRE(std::system(command.c_str()) == 0);
    std::ifstream in(csv);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) lines.push_back(line);
    REQUIRE(lines.size() == flows.size());
    auto strip = [](std::string s) {
        std::string out;
        for (char c : s)
            if (c != ' ') out += c;
        return out;
    };
    for (std::size_t i = 0; i < flows.size(); ++i) {
        const auto& f = flows[i];
        std::istringstream fields(strip(lines[i]));
        std::vector<std::string> v;
        for (std::string field; std::getline(fields, field, '|');) v.push_back(field);
        REQUIRE(v.size() == 10);
        CAPTURE(lines[i]);
        CHECK(v[0] == f.src_addr.to_string());
        CHECK(v[1] == f.dst_addr.to_string());
        if (!f.is_icmp()) {
            CHECK(v[2] == std::to_string(f.src_port));
            CHECK(v[3] == std::to_string(f.dst_port));
        }
        CHECK(std::stoull(v[5]) == f.packets);
        CHECK(std::stoull(v[6]) == f.bytes);
        CHECK(v[7] == f.sampler_address.to_string());
        CHECK(v[8] == std::to_string(f.in_if));
        CHECK(v[9] == std::to_string(f.out_if));
    }
    for (const char* mode : {"-y", ""}) {  // nfdump's writer: LZ4 (-y), then uncompressed
        const auto theirs = scratch("theirs.nf");
        const std::string rewrite = "nfdump -r " + ours.string() + " " + mode + " -w " + theirs.string();
        REQUIRE(std::system(rewrite.c_str()) == 0);
        const auto back = read_all(theirs);
        REQUIRE(back.size() == flows.size());
        for (std::size_t i = 0; i < flows.size(); ++i) {
            CAPTURE(i);
            CHECK(back[i].src_addr == flows[i].src_addr);
            CHECK(back[i].dst_addr == flows[i].dst_addr);
            CHECK(back[i].bytes == flows[i].bytes);
            CHECK(back[i].packets == flows[i].packets);
            CHECK(back[i].dst_port == flows[i].dst_port);
            CHECK(back[i].time_flow_start_ns == flows[i].time_flow_start_ns);
            CHECK(back[i].in_if == flows[i].in_if);
            CHECK(back[i].sampler_address == flows[i].sampler_address);
            CHECK(back[i].sampling_rate == flows[i].sampling_rate);
        }
    }
}
