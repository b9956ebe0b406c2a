// Readers beside writers: every field a writer puts out is read back to the same value, for every record
// type and every IP protocol (the JSON-lines reader of `analyze` once turned "GRE" into 0 and dropped `type`).
#include <flowguard/core/utf8.hpp>
#include <flowguard/exporters/dns_format.hpp>
#include <flowguard/exporters/flow_format.hpp>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace flowguard;
using namespace flowguard::exporters;

namespace {

constexpr FlowType kTypes[] = {FlowType::unknown,    FlowType::sflow5, FlowType::netflow_v5,
                               FlowType::netflow_v9, FlowType::ipfix,  FlowType::meter};

FlowRecord every_field(FlowType type, std::uint8_t proto, bool v6) {
    FlowRecord r;
    r.type = type;
    r.time_received_ns = 1'700'000'000'123'456'789ull + proto;
    r.sampler_address = *IpAddress::parse(v6 ? "2001:db8::1" : "192.0.2.1");
    r.sampler_port = 40000;
    r.sequence_num = 4'000'000'000u;
    r.observation_domain_id = 77;
    r.sampling_rate = 1000;
    r.time_flow_start_ns = 1'700'000'000'000'000'001ull;
    r.time_flow_end_ns = 1'700'000'000'999'999'999ull;
    r.bytes = 123456789012ull;
    r.packets = 98765;
    r.src_addr = *IpAddress::parse(v6 ? "2001:db8:abcd:12::5" : "10.1.2.3");
    r.dst_addr = *IpAddress::parse(v6 ? "2001:db8:ffff::9" : "198.51.100.77");
    r.next_hop = *IpAddress::parse(v6 ? "fe80::1" : "10.0.0.1");
    r.bgp_next_hop = *IpAddress::parse(v6 ? "2001:db8::fe" : "192.0.2.254");
    r.etype = v6 ? kEtherTypeIPv6 : kEtherTypeIPv4;
    r.proto = proto;
    r.src_port = 50000;
    r.dst_port = 443;
    r.in_if = 11;
    r.out_if = 4'000'000'000u;
    r.src_mac = 0x0a0b0c0d0e0full;
    r.dst_mac = 0xf0e0d0c0b0a0ull;
    r.src_vlan = 100;
    r.dst_vlan = 200;
    r.ip_tos = 0xb8;
    r.ip_ttl = 63;
    r.tcp_flags = 0x1b;
    r.icmp_type = 8;
    r.icmp_code = 3;
    r.forwarding_status = 64;
    r.flow_end_reason = 3;
    r.direction = FlowDirection::egress;
    r.src_mask = v6 ? 48 : 16;
    r.dst_mask = v6 ? 64 : 24;
    r.ipv6_flow_label = v6 ? 0x12345 : 0;
    r.src_as = 64512;
    r.dst_as = 4'200'000'000u;
    r.next_hop_as = 65000;
    return r;
}

// Field by field (the record's padding is not part of it).
void check_same(const FlowRecord& a, const FlowRecord& b, bool csv_subset) {
    CHECK(a.type == b.type);
    CHECK(a.time_received_ns == b.time_received_ns);
    CHECK(a.sampler_address == b.sampler_address);
    CHECK(a.sequence_num == b.sequence_num);
    CHECK(a.sampling_rate == b.sampling_rate);
    CHECK(a.time_flow_start_ns == b.time_flow_start_ns);
    CHECK(a.time_flow_end_ns == b.time_flow_end_ns);
    CHECK(a.bytes == b.bytes);
    CHECK(a.packets == b.packets);
    CHECK(a.src_addr == b.src_addr);
    CHECK(a.dst_addr == b.dst_addr);
    CHECK(a.next_hop == b.next_hop);
    CHECK(a.proto == b.proto);
    CHECK(a.src_port == b.src_port);
    CHECK(a.dst_port == b.dst_port);
    CHECK(a.in_if == b.in_if);
    CHECK(a.out_if == b.out_if);
    CHECK(a.ip_tos == b.ip_tos);
    CHECK(a.tcp_flags == b.tcp_flags);
    CHECK(a.icmp_type == b.icmp_type);
    CHECK(a.icmp_code == b.icmp_code);
    CHECK(a.src_as == b.src_as);
    CHECK(a.dst_as == b.dst_as);
    if (csv_subset) return;  // the CSV columns end here
    CHECK(a.sampler_port == b.sampler_port);
    CHECK(a.observation_domain_id == b.observation_domain_id);
    CHECK(a.bgp_next_hop == b.bgp_next_hop);
    CHECK(a.etype == b.etype);
    CHECK(a.src_mac == b.src_mac);
    CHECK(a.dst_mac == b.dst_mac);
    CHECK(a.src_vlan == b.src_vlan);
    CHECK(a.dst_vlan == b.dst_vlan);
    CHECK(a.ip_ttl == b.ip_ttl);
    CHECK(a.forwarding_status == b.forwarding_status);
    CHECK(a.flow_end_reason == b.flow_end_reason);
    CHECK(a.direction == b.direction);
    CHECK(a.src_mask == b.src_mask);
    CHECK(a.dst_mask == b.dst_mask);
    CHECK(a.ipv6_flow_label == b.ipv6_flow_label);
    CHECK(a.next_hop_as == b.next_hop_as);
}

FlowRecord through_json(const FlowRecord& r) {
    fmt::memory_buffer line;
    append_flow_json(line, r);
    FlowRecord back;
    std::string error;
    const auto value = boost::json::parse(std::string_view(line.data(), line.size()));
    REQUIRE(read_flow_json(value.as_object(), back, error));
    CHECK(error.empty());
    return back;
}

}  // namespace

TEST_CASE("JSON lines: every field of every record type and IP protocol reads back as written") {
    for (const auto type : kTypes) {
        for (unsigned proto = 0; proto < 256; ++proto) {
            for (const bool v6 : {false, true}) {
                CAPTURE(static_cast<int>(type));
                CAPTURE(proto);
                CAPTURE(v6);
                const auto r = every_field(type, static_cast<std::uint8_t>(proto), v6);
                check_same(r, through_json(r), false);
            }
        }
    }
    auto unknown_direction = every_field(FlowType::ipfix, 6, false);
    unknown_direction.direction = FlowDirection::unknown;
    CHECK(through_json(unknown_direction).direction == FlowDirection::unknown);
}

TEST_CASE("CSV: every column of every record type and IP protocol reads back as written") {
    FlowCsvReader reader;
    REQUIRE(reader.read_header(flow_csv_header()));
    for (const auto type : kTypes) {
        for (unsigned proto = 0; proto < 256; ++proto) {
            for (const bool v6 : {false, true}) {
                CAPTURE(static_cast<int>(type));
                CAPTURE(proto);
                const auto r = every_field(type, static_cast<std::uint8_t>(proto), v6);
                fmt::memory_buffer line;
                append_flow_csv(line, r);
                std::string text(line.data(), line.size());
                text.pop_back();  // the newline
                FlowRecord back;
                std::string error;
                REQUIRE(reader.read(text, back, error));
                check_same(r, back, true);
            }
        }
    }
}

TEST_CASE("readers: missing fields keep their defaults; wrong ones are refused with the field's name") {
    FlowRecord r;
    std::string error;
    CHECK(read_flow_json(
        boost::json::parse(R"({"src_addr":"10.0.0.1","dst_addr":"10.0.0.2","proto":"GRE"})").as_object(), r, error));
    CHECK(r.proto == 47);
    CHECK(r.bytes == 0);
    CHECK(read_flow_json(
        boost::json::parse(R"({"src_addr":"::1","dst_addr":"::2","proto":17,"bytes":1.5e3})").as_object(), r,
        error));  // numbers
    CHECK(r.proto == 17);
    CHECK(r.bytes == 1500);
    CHECK_FALSE(
        read_flow_json(boost::json::parse(R"({"src_addr":"10.0.0.1","dst_addr":"zzz"})").as_object(), r, error));
    CHECK(error.find("dst_addr") != std::string::npos);
    // Found by fuzzing: a number beyond 2^64 in a double was cast (undefined behaviour); now refused by name.
    CHECK_FALSE(read_flow_json(boost::json::parse(R"({"src_addr":"::1","dst_addr":"::2","bytes":1.7e58})").as_object(),
                               r, error));
    CHECK(error == "bytes: out of range");
    CHECK_FALSE(read_flow_json(boost::json::parse(R"({})").as_object(), r, error));  // not a flow
    CHECK(error.find("src_addr: missing") != std::string::npos);
    CHECK_FALSE(read_flow_json(boost::json::parse(R"({"proto":"NOTAPROTO"})").as_object(), r, error));
    CHECK_FALSE(read_flow_json(boost::json::parse(R"({"src_port":70000})").as_object(), r, error));
    CHECK_FALSE(read_flow_json(boost::json::parse(R"({"src_mac":"0a:0b"})").as_object(), r, error));
    FlowCsvReader csv;
    CHECK_FALSE(csv.read_header("hello,world"));                // a header must name the addresses
    REQUIRE(csv.read_header("dst_addr,bytes,src_addr,extra"));  // reordered, with a column it does not know
    FlowRecord c;
    REQUIRE(csv.read("198.51.100.1,77,10.0.0.2,whatever", c, error));
    CHECK(c.bytes == 77);
    CHECK(c.src_addr.to_string() == "10.0.0.2");
    CHECK_FALSE(csv.read("198.51.100.1,77", c, error));  // a column short
    CHECK_FALSE(csv.read("198.51.100.1,x,10.0.0.2,", c, error));
    CHECK(error.find("bytes") != std::string::npos);
}

TEST_CASE("DNS JSON lines: queries and responses read back as written") {
    DnsEvent e;
    e.time_ns = 1'700'000'000'000'000'123ull;
    e.client = *IpAddress::parse("10.9.9.9");
    e.server = *IpAddress::parse("10.0.0.53");
    e.client_port = 53001;
    e.id = 4242;
    e.qtype = 28;
    e.rcode = 0;
    e.qname.assign("x1.appsync-api.us-west-2.avsvmcloud.com");
    for (const bool response : {false, true}) {
        CAPTURE(response);
        e.response = response;
        if (response) {
            e.cname_count = 2;
            e.cnames[0].assign("a.example.net");
            e.cnames[1].assign("b.example.net");
            e.address_count = 2;
            e.addresses[0] = *IpAddress::parse("2001:db8::7");
            e.addresses[1] = *IpAddress::parse("192.0.2.9");
            e.min_ttl = 60;
            e.truncated_answers = true;
        }
        fmt::memory_buffer line;
        append_dns_json(line, e);
        const auto value = boost::json::parse(std::string_view(line.data(), line.size()));
        REQUIRE(is_dns_json(value.as_object()));
        DnsEvent back;
        std::string error;
        REQUIRE(read_dns_json(value.as_object(), back, error));
        CHECK(back.time_ns == e.time_ns);
        CHECK(back.response == e.response);
        CHECK(back.client == e.client);
        CHECK(back.server == e.server);
        CHECK(back.client_port == e.client_port);
        CHECK(back.id == e.id);
        CHECK(back.qtype == e.qtype);
        CHECK(back.qname.view() == e.qname.view());
        if (!response) continue;
        CHECK(back.rcode == e.rcode);
        CHECK(back.min_ttl == e.min_ttl);
        CHECK(back.truncated_answers);
        REQUIRE(back.cname_count == 2);
        CHECK(back.cnames[1].view() == "b.example.net");
        REQUIRE(back.address_count == 2);
        CHECK(back.addresses[0] == e.addresses[0]);
        CHECK(back.addresses[1] == e.addresses[1]);
    }
}

TEST_CASE("DNS JSON lines: a name that is not UTF-8 is written as valid JSON, its bad bytes as \\xHH") {
    DnsEvent e;
    e.response = true;
    e.qname.assign(
        "a\xFF"
        "b.example.com");
    e.cname_count = 1;
    e.cnames[0].assign("c\xC0.example.net");
    fmt::memory_buffer line;
    append_dns_json(line, e);
    const std::string_view text(line.data(), line.size());
    CHECK(is_valid_utf8(text));
    const auto value = boost::json::parse(text);
    CHECK(value.at("qname").as_string() == "a\\xffb.example.com");
    CHECK(text.find(R"("c\\xc0.example.net")") != std::string_view::npos);
}
