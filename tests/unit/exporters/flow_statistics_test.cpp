#include <flowguard/exporters/flow_statistics.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace flowguard;
using exporters::StatSpec;
using exporters::StatTable;

namespace {

FlowRecord flow(const char* src, std::uint16_t sport, const char* dst, std::uint16_t dport, std::uint64_t bytes,
                std::uint64_t packets = 1, std::uint8_t proto = 6) {
    FlowRecord r;
    r.src_addr = *IpAddress::parse(src);
    r.dst_addr = *IpAddress::parse(dst);
    r.src_port = sport;
    r.dst_port = dport;
    r.proto = proto;
    r.bytes = bytes;
    r.packets = packets;
    r.time_flow_start_ns = 1'000'000'000;
    r.time_flow_end_ns = 2'000'000'000;
    return r;
}

std::vector<std::pair<std::string, std::uint64_t>> rows(const StatTable& t, std::size_t n, bool by_bytes = false) {
    std::vector<std::pair<std::string, std::uint64_t>> out;
    for (const auto& row : t.top(n))
        out.emplace_back(t.key_text(row.key), by_bytes ? row.totals.bytes : row.totals.flows);
    return out;
}

}  // namespace

TEST_CASE("-s ip counts each flow for its source and its destination") {
    StatTable t(StatSpec::parse("ip/bytes"));
    t.add(flow("10.0.0.1", 1000, "198.51.100.7", 443, 500));
    t.add(flow("10.0.0.2", 1001, "198.51.100.7", 443, 300));
    t.add(flow("198.51.100.7", 443, "10.0.0.1", 1000, 9000));
    using R = std::vector<std::pair<std::string, std::uint64_t>>;
    CHECK(rows(t, 0, true) == R{{"198.51.100.7", 9800}, {"10.0.0.1", 9500}, {"10.0.0.2", 300}});
    CHECK(rows(t, 2, true) == R{{"198.51.100.7", 9800}, {"10.0.0.1", 9500}});
    CHECK(t.totals().flows == 3);
    CHECK(t.totals().bytes == 9800);
}

TEST_CASE("single-field statistics, orders and stable ties") {
    StatTable ports(StatSpec::parse("dstport"));
    ports.add(flow("10.0.0.1", 1000, "198.51.100.7", 443, 10));
    ports.add(flow("10.0.0.1", 1001, "198.51.100.7", 443, 10));
    ports.add(flow("10.0.0.1", 1002, "198.51.100.8", 80, 5000));
    ports.add(flow("10.0.0.1", 1003, "198.51.100.8", 22, 1));
    using R = std::vector<std::pair<std::string, std::uint64_t>>;
    CHECK(rows(ports, 0) == R{{"443", 2}, {"22", 1}, {"80", 1}});  // ties by key, ascending
    StatTable by_bytes(StatSpec::parse("dstport/bytes"));
    StatTable protos(StatSpec::parse("proto/packets"));
    for (const auto& r : {flow("10.0.0.1", 1, "10.0.0.2", 53, 100, 2, 17), flow("10.0.0.1", 1, "10.0.0.2", 443, 10, 9),
                          flow("10.0.0.1", 1, "10.0.0.2", 443, 10, 1)}) {
        by_bytes.add(r);
        protos.add(r);
    }
    CHECK(rows(by_bytes, 1, true) == R{{"53", 100}});
    CHECK(protos.top(0).front().totals.packets == 10);
    CHECK(protos.key_text(protos.top(0).front().key) == "TCP");
}

TEST_CASE("conversations are address pairs in either direction") {
    StatTable t(StatSpec::parse("conversation/flows"));
    t.add(flow("10.0.0.1", 1000, "198.51.100.7", 443, 10));
    t.add(flow("198.51.100.7", 443, "10.0.0.1", 1000, 10));
    t.add(flow("10.0.0.2", 1000, "198.51.100.7", 443, 10));
    using R = std::vector<std::pair<std::string, std::uint64_t>>;
    CHECK(rows(t, 0) == R{{"10.0.0.1 <-> 198.51.100.7", 2}, {"10.0.0.2 <-> 198.51.100.7", 1}});
}

TEST_CASE("record and chosen-field aggregation keep only the grouped fields") {
    StatTable records(StatSpec::parse("record/bytes"));
    records.add(flow("10.0.0.1", 1000, "198.51.100.7", 443, 10));
    records.add(flow("10.0.0.1", 1000, "198.51.100.7", 443, 20));
    records.add(flow("10.0.0.1", 1001, "198.51.100.7", 443, 5));
    REQUIRE(records.top(0).size() == 2);
    CHECK(records.key_text(records.top(0)[0].key) == "10.0.0.1:1000 -> 198.51.100.7:443 TCP");
    CHECK(records.top(0)[0].totals.bytes == 30);
    StatSpec a;
    a.fields = StatSpec::parse_fields("srcip,dstport");
    StatTable by_fields(a);
    by_fields.add(flow("10.0.0.1", 1000, "198.51.100.7", 443, 10));
    by_fields.add(flow("10.0.0.1", 1001, "198.51.100.8", 443, 10));
    REQUIRE(by_fields.groups() == 1);
    CHECK(by_fields.key_text(by_fields.top(0)[0].key) == "10.0.0.1 443");
}

TEST_CASE("scan threads' shares merged, in any order and sizes, equal one table fed every flow") {
    // Shares of different sizes with overlapping keys: the larger takes the smaller's groups whichever merges
    // into which, and a share merged into an empty table is moved in whole.
    std::vector<FlowRecord> flows;
    for (int i = 0; i < 300; ++i) {
        const std::string src = "10.0.0." + std::to_string(i % 40);
        const std::string dst = "198.51.100." + std::to_string(i % 7);
        flows.push_back(flow(src.c_str(), static_cast<std::uint16_t>(1000 + i), dst.c_str(),
                             static_cast<std::uint16_t>(i % 3 ? 443 : 53), 100 + static_cast<std::uint64_t>(i)));
    }
    for (const char* spec : {"ip/bytes", "dstport/bytes", "conversation/bytes", "record/bytes"}) {
        CAPTURE(spec);
        StatTable whole(StatSpec::parse(spec));
        for (const auto& f : flows) whole.add(f);
        for (const std::size_t split : {std::size_t{0}, std::size_t{20}, std::size_t{250}}) {
            CAPTURE(split);
            StatTable merged(StatSpec::parse(spec));
            StatTable first(StatSpec::parse(spec));
            StatTable second(StatSpec::parse(spec));
            for (std::size_t i = 0; i < flows.size(); ++i) (i < split ? first : second).add(flows[i]);
            merged.merge(std::move(first));
            merged.merge(std::move(second));
            CHECK(rows(merged, 0, true) == rows(whole, 0, true));
            CHECK(merged.totals().bytes == whole.totals().bytes);
            CHECK(merged.groups() == whole.groups());
        }
    }
}

TEST_CASE("the top n rows are the first n of every row sorted, ties included") {
    // top(n) keeps only n rows while it reads the groups; many equal values make the key decide.
    std::vector<FlowRecord> flows;
    for (int i = 0; i < 500; ++i) {
        const std::string src = "10.0." + std::to_string(i % 13) + "." + std::to_string(i % 29);
        const std::string dst = "198.51.100." + std::to_string(i % 11);
        flows.push_back(flow(src.c_str(), static_cast<std::uint16_t>(1000 + i % 17), dst.c_str(),
                             static_cast<std::uint16_t>(i % 5), static_cast<std::uint64_t>(i % 4)));
    }
    for (const char* spec : {"ip/bytes", "dstport/flows", "conversation/bytes", "record/bytes", "srcport/bpp"}) {
        CAPTURE(spec);
        StatTable t(StatSpec::parse(spec));
        for (const auto& f : flows) t.add(f);
        const auto all = rows(t, 0, true);
        for (const std::size_t n : {std::size_t{1}, std::size_t{3}, std::size_t{10}, all.size() - 1, all.size()}) {
            CAPTURE(n);
            const auto first = static_cast<std::ptrdiff_t>(std::min(n, all.size()));
            CHECK(rows(t, n, true) == std::vector(all.begin(), all.begin() + first));
        }
    }
}

TEST_CASE("a statistic says whether it reads only a record's generic flow and addresses") {
    for (const char* core :
         {"ip", "srcip", "dstip", "port", "srcport", "dstport", "proto", "tos", "conversation", "record"})
        CHECK_MESSAGE(StatSpec::parse(core).reads_core_fields_only(), core);
    for (const char* more : {"exporter", "router", "interface", "if", "as", "srcas", "dstas", "inif", "outif"})
        CHECK_FALSE_MESSAGE(StatSpec::parse(more).reads_core_fields_only(), more);
}

TEST_CASE("pps, bps and bpp orders use the group's time span") {
    StatTable t(StatSpec::parse("dstip/bps"));
    t.add(flow("10.0.0.1", 1, "10.0.0.2", 2, 1000, 10));  // 1 s: 8,000 bps
    t.add(flow("10.0.0.1", 1, "10.0.0.3", 2, 5000, 10));  // 40,000 bps
    CHECK(t.key_text(t.top(1)[0].key) == "10.0.0.3");
    CHECK(exporters::order_value(t.top(1)[0].totals, exporters::StatOrder::bps) == 40'000);
    CHECK(exporters::order_value(t.top(1)[0].totals, exporters::StatOrder::bpp) == 500);
    CHECK(exporters::order_value(t.top(1)[0].totals, exporters::StatOrder::pps) == 10);
}

TEST_CASE("unknown statistics, orders and fields are errors naming the known ones") {
    CHECK_THROWS_WITH_AS(StatSpec::parse("srcipp"), doctest::Contains("srcip"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(StatSpec::parse("ip/size"), doctest::Contains("bytes"), std::invalid_argument);
    CHECK_THROWS_AS(StatSpec::parse_fields("srcip,nosuch"), std::invalid_argument);
    CHECK_THROWS_AS(StatSpec::parse_fields(""), std::invalid_argument);
}
