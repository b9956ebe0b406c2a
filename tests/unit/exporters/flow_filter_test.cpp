#include <flowguard/exporters/flow_filter.hpp>

#include <doctest/doctest.h>

using namespace flowguard;
using exporters::FilterError;
using exporters::FlowFilter;

namespace {

FlowRecord flow(const char* src, std::uint16_t sport, const char* dst, std::uint16_t dport, std::uint8_t proto = 6) {
    FlowRecord r;
    r.src_addr = *IpAddress::parse(src);
    r.dst_addr = *IpAddress::parse(dst);
    r.etype = r.src_addr.is_v6() ? kEtherTypeIPv6 : kEtherTypeIPv4;
    r.src_port = sport;
    r.dst_port = dport;
    r.proto = proto;
    r.packets = 10;
    r.bytes = 15'000;
    r.time_flow_start_ns = 1'000'000'000'000;
    r.time_flow_end_ns = r.time_flow_start_ns + 2'000'000'000;  // 2 s
    r.in_if = 3;
    r.out_if = 7;
    r.tcp_flags = 0x1b;  // FSPA
    r.sampler_address = *IpAddress::parse("192.0.2.1");
    r.observation_domain_id = 5;
    r.src_as = 64500;
    r.ip_tos = 46;
    r.type = FlowType::ipfix;
    return r;
}

bool match(std::string_view filter, const FlowRecord& r) {
    return FlowFilter::compile(filter).matches(r);
}

std::size_t error_at(std::string_view filter) {
    try {
        FlowFilter::compile(filter);
    } catch (const FilterError& e) {
        return e.position();
    }
    FAIL("no error for: " << filter);
    return 0;
}

}  // namespace

TEST_CASE("an empty filter and 'any' match every record") {
    const auto r = flow("10.0.0.1", 50000, "198.51.100.7", 443);
    CHECK(FlowFilter{}.matches(r));
    CHECK(FlowFilter::compile("").matches_all());
    CHECK(FlowFilter::compile("  # a comment only").matches_all());
    CHECK(match("any", r));
}

TEST_CASE("addresses, networks and direction qualifiers as nfdump reads them") {
    const auto r = flow("10.1.1.20", 50000, "198.51.100.7", 443);
    CHECK(match("host 10.1.1.20", r));
    CHECK(match("ip 198.51.100.7", r));
    CHECK(match("src ip 10.1.1.20", r));
    CHECK_FALSE(match("dst ip 10.1.1.20", r));
    CHECK(match("src or dst ip 198.51.100.7", r));
    CHECK_FALSE(match("src and dst ip 198.51.100.7", r));
    CHECK(match("src net 10.1.1.0/24", r));
    CHECK(match("src net 10.1.1.16/28", r));
    CHECK_FALSE(match("src net 10.1.1.0/28", r));
    CHECK(match("net 10.1/16", r));  // nfdump's short form
    CHECK(match("src net 10.1.0.0 255.255.0.0", r));
    CHECK(match("dst net 198.51.100.0/24", r));
    CHECK(match("net 0.0.0.0/0", r));
    CHECK(match("ip in [ 192.0.2.9 10.1.1.20 ]", r));
    CHECK(match("dst ip in [ 192.0.2.9, 198.51.0.0/16 ]", r));
    CHECK_FALSE(match("src ip in [ 192.0.2.9 198.51.100.7 ]", r));
    CHECK_FALSE(match("ip 10.1.1.21", r));
}

TEST_CASE("IPv6 addresses and networks never match IPv4 ones") {
    const auto r6 = flow("2001:db8:1::20", 50000, "2001:db8:2::7", 443);
    const auto r4 = flow("10.0.0.1", 1, "10.0.0.2", 2);
    CHECK(match("src net 2001:db8:1::/48", r6));
    CHECK_FALSE(match("src net 2001:db8:2::/48", r6));
    CHECK(match("host 2001:db8:2::7", r6));
    CHECK(match("ipv6", r6));
    CHECK(match("inet6", r6));
    CHECK_FALSE(match("ipv4", r6));
    CHECK(match("ipv4", r4));
    CHECK_FALSE(match("net ::/0", r4));
    CHECK_FALSE(match("net 0.0.0.0/0", r6));
}

TEST_CASE("ports, protocols, volumes and comparisons") {
    const auto r = flow("10.0.0.1", 50000, "198.51.100.7", 443);
    CHECK(match("port 443", r));
    CHECK(match("dst port 443", r));
    CHECK_FALSE(match("src port 443", r));
    CHECK(match("src port > 1023", r));
    CHECK(match("src port gt 1023 and dst port lt 1024", r));
    CHECK(match("dst port <= 443 and dst port >= 443 and dst port == 443 and dst port = 443", r));
    CHECK(match("port in [ 22 443 ]", r));
    CHECK_FALSE(match("dst port in [ 22 80 ]", r));
    CHECK(match("proto tcp", r));
    CHECK(match("proto TCP", r));
    CHECK(match("proto 6", r));
    CHECK_FALSE(match("proto udp", r));
    CHECK(match("proto icmp6", flow("2001:db8::1", 0, "2001:db8::2", 0, 58)));
    CHECK(match("bytes 15000", r));
    CHECK(match("bytes > 14k", r));  // k, m, g: powers of 1,000 as in nfdump
    CHECK_FALSE(match("bytes > 1m", r));
    CHECK(match("packets < 11", r));
    CHECK(match("in packets 10", r));
    CHECK(match("duration 2000", r));  // ms
    CHECK(match("pps 5", r));
    CHECK(match("bps 60000", r));
    CHECK(match("bpp 1500", r));
    CHECK(match("bytes > 0x10", r));
}

TEST_CASE("interfaces, exporter, AS, TOS, flags and other fields") {
    const auto r = flow("10.0.0.1", 50000, "198.51.100.7", 443);
    CHECK(match("if 3", r));
    CHECK(match("if 7", r));
    CHECK(match("in if 3", r));
    CHECK_FALSE(match("in if 7", r));
    CHECK(match("out if 7", r));
    CHECK(match("exporter 192.0.2.1", r));
    CHECK(match("router ip 192.0.2.1", r));
    CHECK(match("exporter 192.0.2.0/24", r));
    CHECK_FALSE(match("exporter 192.0.2.2", r));
    CHECK(match("observation domain id 5", r));
    CHECK(match("nfversion 10", r));
    CHECK(match("as 64500", r));
    CHECK(match("src as 64500", r));
    CHECK_FALSE(match("dst as 64500", r));
    CHECK(match("tos 46", r));
    CHECK(match("flags S", r));
    CHECK(match("flags SAF", r));
    CHECK_FALSE(match("flags R", r));
    CHECK_FALSE(match("flags S", flow("10.0.0.1", 1, "10.0.0.2", 2, 17)));  // flags imply TCP
}

TEST_CASE("not binds tighter than and, and tighter than or; parentheses group") {
    const auto r = flow("10.0.0.1", 50000, "198.51.100.7", 443);
    CHECK(match("port 22 or port 443 and proto tcp", r));
    CHECK(match("proto udp and port 22 or port 443", r));  // (udp and 22) or 443
    CHECK_FALSE(match("proto udp and (port 22 or port 443)", r));
    CHECK_FALSE(match("not port 443", r));
    CHECK(match("not port 22 and not proto udp", r));
    CHECK(match("! proto udp && (port 80 || port 443)", r));
    CHECK(match("not not port 443", r));
    CHECK(match("not (port 22 or proto udp)", r));
    CHECK(match("SRC NET 10.0.0.0/8 AND DST PORT 443", r));  // keywords in any case
}

TEST_CASE("the time restriction keeps flows that overlap the window") {
    auto f = FlowFilter::compile("port 443");
    const auto r = flow("10.0.0.1", 50000, "198.51.100.7", 443);
    f.restrict_time(r.time_flow_end_ns, r.time_flow_end_ns + 1);
    CHECK(f.matches(r));
    f.restrict_time(r.time_flow_end_ns + 1, UINT64_MAX);
    CHECK_FALSE(f.matches(r));
    f.restrict_time(0, r.time_flow_start_ns);
    CHECK_FALSE(f.matches(r));
    CHECK_FALSE(FlowFilter{}.matches_all() == false);
    auto any = FlowFilter{};
    any.restrict_time(1, 2);
    CHECK_FALSE(any.matches_all());
}

TEST_CASE("long address lists go through a hash set and still match") {
    std::string list = "ip in [";
    for (int i = 1; i <= 50; ++i) list += " 192.0.2." + std::to_string(i);
    list += " ]";
    CHECK(match(list, flow("192.0.2.50", 1, "10.0.0.1", 2)));
    CHECK(match(list, flow("192.0.2.3", 1, "10.0.0.1", 2)));
    CHECK_FALSE(match(list, flow("192.0.2.51", 1, "10.0.0.1", 2)));
}

TEST_CASE("bad filters are errors that say where") {
    CHECK(error_at("src port 443 and") == 16);
    CHECK(error_at("src prt 443") == 4);
    CHECK(error_at("port 70000") == 5);
    CHECK(error_at("host example.com") == 5);  // host names are not looked up
    CHECK(error_at("net 10.0.0.0/33") == 13);
    CHECK(error_at("net 10.0.0.0 255.0.255.0") == 13);
    CHECK(error_at("(port 22") == 8);
    CHECK(error_at("port 22)") == 7);
    CHECK(error_at("proto nosuch") == 6);
    CHECK(error_at("flags Q") == 6);
    CHECK(error_at("sysid 1") == 6);
    CHECK(error_at("in port 22") == 8);
    CHECK(error_at("out bytes > 1") == 10);
    CHECK(error_at("src proto tcp") == 10);
    CHECK(error_at("port 22 $") == 8);
    CHECK(error_at("name example.com") == 5);  // no passive DNS given
}

TEST_CASE("name matches the addresses passive DNS gave for the name, either side") {
    const exporters::NameAddresses names = [](std::string_view name) {
        std::vector<IpAddress> out;
        if (name == "example.com") out.push_back(*IpAddress::parse("198.51.100.7"));
        return out;
    };
    const auto f = FlowFilter::compile("name Example.COM and port 443", names);
    CHECK(f.matches(flow("10.0.0.1", 50000, "198.51.100.7", 443)));
    CHECK(f.matches(flow("198.51.100.7", 443, "10.0.0.1", 50000)));
    CHECK_FALSE(f.matches(flow("10.0.0.1", 50000, "198.51.100.8", 443)));
    CHECK_FALSE(FlowFilter::compile("name other.org", names).matches(flow("10.0.0.1", 1, "198.51.100.7", 2)));
}

TEST_CASE("a filter says whether the generic flow and address fields are all it reads") {
    CHECK(FlowFilter::compile("src net 10.0.0.0/8 and dst port 443 and bytes > 1k").reads_core_fields_only());
    CHECK(FlowFilter::compile("proto udp or flags S or tos 46 or duration > 10 or ipv6").reads_core_fields_only());
    CHECK(FlowFilter{}.reads_core_fields_only());
    CHECK_FALSE(FlowFilter::compile("port 443 and in if 3").reads_core_fields_only());
    CHECK_FALSE(FlowFilter::compile("exporter 192.0.2.1").reads_core_fields_only());
    CHECK_FALSE(FlowFilter::compile("src as 64500 or port 22").reads_core_fields_only());
    CHECK_FALSE(FlowFilter::compile("next ip 192.0.2.1").reads_core_fields_only());
}

TEST_CASE("a filter combining terms at every level of nesting keeps each level's result") {
    // Matching runs the filter as postfix steps on a stack of results: each level holds one result while the
    // next is computed.
    const auto r = flow("10.0.0.1", 50000, "198.51.100.7", 443);
    std::string any;
    std::string all;
    for (int i = 0; i < 190; ++i) {
        any += "port " + std::to_string(1000 + i) + " or (";
        all += "proto tcp and (";
    }
    const std::string close(190, ')');
    CHECK(match(any + "port 443" + close, r));
    CHECK_FALSE(match(any + "port 444" + close, r));
    CHECK(match(all + "port 443" + close, r));
    CHECK_FALSE(match(all + "port 444" + close, r));
    CHECK_FALSE(match("proto udp and (" + all + "port 443" + close + ")", r));
    CHECK(match("(" + all + "port 444" + close + ") or port 50000", r));
    CHECK(match("not (" + all + "port 444" + close + ") and not port 1", r));
}

TEST_CASE("a filter nested beyond 200 levels is an error, not a stack overflow") {
    const auto r = flow("10.0.0.1", 50000, "198.51.100.7", 443);
    CHECK(match(std::string(150, '(') + "port 443" + std::string(150, ')'), r));
    std::string deep;
    for (int i = 0; i < 150; ++i) deep += "not ";
    CHECK(match(deep + "port 443", r));  // an even number of negations
    CHECK_THROWS_AS(FlowFilter::compile(std::string(1'000'000, '(') + "port 443"), FilterError);
    std::string nots;
    for (int i = 0; i < 100'000; ++i) nots += "! ";
    CHECK_THROWS_AS(FlowFilter::compile(nots + "port 443"), FilterError);
}
