#include <flowguard/exporters/flow_format.hpp>
#include <flowguard/exporters/line_output.hpp>

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <string>

using namespace flowguard;

namespace {

FlowRecord sample() {
    FlowRecord r;
    r.type = FlowType::ipfix;
    r.time_received_ns = 1'700'000'000'123'456'789ull;
    r.sequence_num = 42;
    r.sampling_rate = 100;
    r.sampler_address = *IpAddress::parse("192.0.2.1");
    r.time_flow_start_ns = 1'700'000'000'000'000'000ull;
    r.time_flow_end_ns = 1'700'000'000'500'000'000ull;
    r.bytes = 1500;
    r.packets = 3;
    r.src_addr = *IpAddress::parse("10.1.2.3");
    r.dst_addr = *IpAddress::parse("198.51.100.77");
    r.src_mask = 16;
    r.dst_mask = 24;
    r.etype = kEtherTypeIPv4;
    r.proto = 6;
    r.src_port = 50000;
    r.dst_port = 443;
    r.src_mac = 0x0a0b0c0d0e0full;
    r.tcp_flags = 0x1b;
    return r;
}

}  // namespace

TEST_CASE("JSON lines carry goflow2's fields, in goflow2's order, with goflow2's value formats") {
    fmt::memory_buffer buf;
    exporters::append_flow_json(buf, sample());
    const std::string line(buf.data(), buf.size());
    REQUIRE(line.back() == '\n');
    const auto doc = boost::json::parse(line).as_object();
    static constexpr std::array goflow2_fields{"type",
                                               "time_received_ns",
                                               "sequence_num",
                                               "sampling_rate",
                                               "sampler_address",
                                               "time_flow_start_ns",
                                               "time_flow_end_ns",
                                               "bytes",
                                               "packets",
                                               "src_addr",
                                               "dst_addr",
                                               "etype",
                                               "proto",
                                               "src_port",
                                               "dst_port",
                                               "in_if",
                                               "out_if",
                                               "src_mac",
                                               "dst_mac",
                                               "src_vlan",
                                               "dst_vlan",
                                               "vlan_id",
                                               "ip_tos",
                                               "forwarding_status",
                                               "ip_ttl",
                                               "ip_flags",
                                               "tcp_flags",
                                               "icmp_type",
                                               "icmp_code",
                                               "ipv6_flow_label",
                                               "fragment_id",
                                               "fragment_offset",
                                               "src_as",
                                               "dst_as",
                                               "next_hop",
                                               "next_hop_as",
                                               "src_net",
                                               "dst_net",
                                               "bgp_next_hop",
                                               "bgp_communities",
                                               "as_path",
                                               "mpls_ttl",
                                               "mpls_label",
                                               "mpls_ip",
                                               "observation_domain_id",
                                               "observation_point_id",
                                               "layer_stack",
                                               "layer_size",
                                               "ipv6_routing_header_addresses",
                                               "ipv6_routing_header_seg_left"};
    std::size_t i = 0;
    for (const auto& kv : doc) {
        if (i == goflow2_fields.size()) break;
        CHECK(std::string(kv.key()) == goflow2_fields[i]);
        ++i;
    }
    CHECK(i == goflow2_fields.size());
    CHECK(doc.at("type").as_string() == "IPFIX");
    CHECK(doc.at("time_received_ns").to_number<std::uint64_t>() == 1'700'000'000'123'456'789ull);
    CHECK(doc.at("sampler_address").as_string() == "192.0.2.1");
    CHECK(doc.at("etype").as_string() == "IPv4");
    CHECK(doc.at("proto").as_string() == "TCP");
    CHECK(doc.at("src_mac").as_string() == "0a:0b:0c:0d:0e:0f");
    CHECK(doc.at("src_net").as_string() == "10.1.0.0/16");
    CHECK(doc.at("dst_net").as_string() == "198.51.100.0/24");
    CHECK(doc.at("next_hop").as_string() == "");
    CHECK(doc.at("tcp_flags").to_number<int>() == 0x1b);
}

TEST_CASE("unnamed protocols are printed as their number; IPv6 networks are masked") {
    auto r = sample();
    r.proto = 253;
    r.etype = kEtherTypeIPv6;
    r.src_addr = *IpAddress::parse("2001:db8:abcd:12::1");
    r.src_mask = 48;
    fmt::memory_buffer buf;
    exporters::append_flow_json(buf, r);
    const auto doc = boost::json::parse(std::string_view(buf.data(), buf.size())).as_object();
    CHECK(doc.at("proto").as_string() == "253");
    CHECK(doc.at("etype").as_string() == "IPv6");
    CHECK(doc.at("src_net").as_string() == "2001:db8:abcd::/48");
}

TEST_CASE("CSV has a header and one line per record") {
    std::FILE* f = std::tmpfile();
    REQUIRE(f);
    const auto& csv = *exporters::find_flow_format("csv");
    exporters::LineOutput output(
        "flows", std::make_unique<exporters::FdTransport>(fileno(f), "tmpfile", false, std::string(csv.header) + "\n"));
    exporters::FlowOutputStage writer(csv, output);
    const std::array records{sample(), sample()};
    Alerts alerts;
    writer.on_flows(records, 0, alerts);
    writer.flush(0);
    REQUIRE_FALSE(output.failed());
    std::rewind(f);
    char line[1024];
    REQUIRE(std::fgets(line, sizeof line, f));
    CHECK(std::string(line).starts_with("type,time_received_ns,"));
    REQUIRE(std::fgets(line, sizeof line, f));
    CHECK(std::string(line).starts_with("IPFIX,1700000000123456789,192.0.2.1,42,100,"));
    CHECK(std::string(line).find(",10.1.2.3,198.51.100.77,6,50000,443,") != std::string::npos);
    CHECK(output.lines_written() == 2);
    std::fclose(f);
}
