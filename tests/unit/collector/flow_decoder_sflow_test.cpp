// sFlow v5 (sflow.org "sFlow Version 5"): datagrams built word by word, so each test states what is on the
// wire. Decoding of real agents' captures is checked against tshark and sfcapd in tests/integration/sflow_test.py.
#include <flowguard/collector/flow_decoder.hpp>

#include <doctest/doctest.h>

#include <export_builder.hpp>

using namespace flowguard;
using namespace flowguard::test;

namespace {

Bytes record(std::uint32_t format, const Bytes& body) {
    Bytes b;
    b.u32(format).u32(body.size()).raw(body.data());
    return b;
}

// Ethernet + IPv4 + UDP 10.1.0.5:5353 -> 10.1.0.53:53 carrying a DNS answer for "c2.example" A 203.0.113.7.
Bytes dns_frame() {
    Bytes dns;
    dns.u16(0x1234).u16(0x8180).u16(1).u16(1).u16(0).u16(0);
    dns.u8(2).raw({'c', '2'}).u8(7).raw({'e', 'x', 'a', 'm', 'p', 'l', 'e'}).u8(0).u16(1).u16(1);
    dns.u16(0xc00c).u16(1).u16(1).u32(300).u16(4).ipv4(203, 0, 113, 7);
    Bytes f;
    f.u16(0x0011).u32(0x22334455).u16(0x0066).u32(0x778899aa).u16(0x0800);
    f.u8(0x45).u8(0).u16(20 + 8 + dns.size()).u16(1).u16(0).u8(64).u8(17).u16(0);
    f.ipv4(10, 1, 0, 53).ipv4(10, 1, 0, 5);
    f.u16(53).u16(5353).u16(8 + dns.size()).u16(0).raw(dns.data());
    return f;
}

Bytes raw_header(const Bytes& frame, std::uint32_t frame_length) {
    Bytes b;
    b.u32(1).u32(frame_length).u32(4).u32(frame.size()).raw(frame.data());
    b.zeros((4 - frame.size() % 4) % 4);
    return record(1, b);
}

Bytes flow_sample(std::uint32_t rate, std::uint32_t input, std::uint32_t output, std::initializer_list<Bytes> records) {
    Bytes b;
    b.u32(9).u32(3).u32(rate).u32(rate * 10).u32(0).u32(input).u32(output).u32(records.size());
    for (const auto& r : records) b.raw(r.data());
    return record(1, b);
}

Bytes ipv4_data(std::uint32_t length) {
    Bytes b;
    b.u32(length).u32(6).ipv4(10, 2, 0, 1).ipv4(198, 51, 100, 2).u32(40000).u32(443).u32(0x12).u32(0x20);
    return record(3, b);
}

Bytes extended_switch(std::uint32_t src_vlan, std::uint32_t dst_vlan) {
    Bytes b;
    b.u32(src_vlan).u32(0).u32(dst_vlan).u32(0);
    return record(1001, b);
}

Bytes if_counters(std::uint32_t index, std::uint64_t in_octets) {
    Bytes b;
    b.u32(index).u32(6).u64(1'000'000'000).u32(1).u32(3).u64(in_octets);
    b.u32(10).u32(2).u32(1).u32(0).u32(3).u32(0);  // unicast, multicast, broadcast, discards, errors, unknown
    b.u64(777).u32(20).u32(0).u32(0).u32(1).u32(0).u32(0);
    return record(1, b);
}

Bytes counter_sample(std::uint32_t index, std::uint64_t in_octets) {
    Bytes b;
    b.u32(4).u32(index).u32(1).raw(if_counters(index, in_octets).data());
    return record(2, b);
}

Bytes datagram(std::uint32_t sequence, std::initializer_list<Bytes> samples, std::uint32_t sub_agent = 0,
               std::uint32_t uptime = 1'000'000) {
    Bytes b;
    b.u32(5).u32(1).ipv4(192, 0, 2, 77).u32(sub_agent).u32(sequence).u32(uptime).u32(samples.size());
    for (const auto& s : samples) b.raw(s.data());
    return b;
}

}  // namespace

TEST_CASE("sFlow flow samples: raw headers through the packet parser, rate and interfaces from the sample") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    decoder.decode(
        packet_of(datagram(1, {flow_sample(1024, 7, 9, {extended_switch(100, 200), raw_header(dns_frame(), 92)})})),
        out);
    REQUIRE(out.size() == 1);
    const auto& r = out[0];
    CHECK(r.type == FlowType::sflow5);
    CHECK(r.sampler_address.to_string() == "192.0.2.77");  // the agent, not the datagram's source
    CHECK(r.src_addr.to_string() == "10.1.0.53");
    CHECK(r.dst_addr.to_string() == "10.1.0.5");
    CHECK(r.src_port == 53);
    CHECK(r.dst_port == 5353);
    CHECK(r.proto == 17);
    CHECK(r.bytes == 92);
    CHECK(r.packets == 1);
    CHECK(r.sampling_rate == 1024);
    CHECK(r.in_if == 7);
    CHECK(r.out_if == 9);
    CHECK(r.src_vlan == 100);  // the header was untagged: the switch's VLANs stand
    CHECK(r.dst_vlan == 200);
    CHECK(r.src_mac == 0x0066778899aaull);  // from the sampled Ethernet header
    CHECK(r.dst_mac == 0x001122334455ull);
    CHECK(r.time_flow_start_ns == r.time_received_ns);
}

TEST_CASE("sFlow sampled IPv4 records stand in for a missing header; discards and unknown interfaces") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    const std::uint32_t discarded = (1u << 30) | 4;  // format 1: dropped, reason 4
    decoder.decode(packet_of(datagram(1, {flow_sample(1, 0x3fffffff, discarded, {ipv4_data(1500)}),
                                          flow_sample(1, 2, (2u << 30) | 5, {ipv4_data(60)})})),
                   out);
    REQUIRE(out.size() == 2);
    CHECK(out[0].src_addr.to_string() == "10.2.0.1");
    CHECK(out[0].bytes == 1500);
    CHECK(out[0].tcp_flags == 0x12);
    CHECK(out[0].ip_tos == 0x20);
    CHECK(out[0].in_if == 0);  // 0x3fffffff: unknown
    CHECK(out[0].out_if == 0);
    CHECK(out[0].forwarding_status == 128);
    CHECK(out[1].out_if == 0);  // format 2: sent to 5 interfaces, none of them named
    CHECK(out[1].forwarding_status == 0);
}

TEST_CASE("sFlow: configured sampling rate wins; VLAN junk is no VLAN") {
    CollectorConfig config;
    config.exporters.push_back(ExporterSettings{IpAddress::from_v4(0xc0000201), 100});
    collector::FlowDecoder decoder(config);
    std::vector<FlowRecord> out;
    decoder.decode(
        packet_of(datagram(1, {flow_sample(4096, 1, 2, {extended_switch(0xffffffff, 5000), ipv4_data(80)})})), out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].sampling_rate == 100);
    CHECK(out[0].src_vlan == 0);
    CHECK(out[0].dst_vlan == 0);
}

TEST_CASE("sFlow sequence accounting per agent and sub-agent") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    for (std::uint32_t seq : {1u, 2u, 5u, 4u, 4u}) decoder.decode(packet_of(datagram(seq, {}, 0)), out);
    for (std::uint32_t seq : {100u, 101u}) decoder.decode(packet_of(datagram(seq, {}, 1)), out);  // its own stream
    const auto t = decoder.totals();
    CHECK(t.sequence_lost == 1);  // 3 never came; 4 came late
    CHECK(t.sequence_reordered == 1);
    CHECK(t.sequence_duplicate == 1);
    int streams = 0;
    decoder.for_each_stream([&](const collector::StreamKey& key, const collector::ExporterStats& s) {
        ++streams;
        CHECK(key.version == collector::kSflowStreamVersion);
        CHECK(std::string(collector::stream_protocol_name(key.version)) == "sflow5");
        CHECK(s.packets == (key.domain == 0 ? 5u : 2u));
    });
    CHECK(streams == 2);
    // The agent rebooted: its uptime went back, so sequence 1 again is a restart, not a huge loss.
    decoder.decode(packet_of(datagram(1, {}, 0, 5'000)), out);
    CHECK(decoder.totals().sequence_lost == 1);
}

TEST_CASE("sFlow counter samples keep the newest generic interface counters, within the cap") {
    CollectorConfig config;
    config.max_interfaces = 2;
    collector::FlowDecoder decoder(config);
    std::vector<FlowRecord> out;
    decoder.decode(packet_of(datagram(1, {counter_sample(1, 1000), counter_sample(2, 50)})), out);
    decoder.decode(packet_of(datagram(2, {counter_sample(1, 2000), counter_sample(3, 10)})), out);
    CHECK(out.empty());
    CHECK(decoder.interface_count() == 2);
    CHECK(decoder.totals().interface_counter_rejects == 1);
    decoder.for_each_interface([](const collector::InterfaceKey& key, const collector::InterfaceCounters& c) {
        CHECK(key.agent.to_string() == "192.0.2.77");
        if (key.if_index == 1) CHECK(c.in_octets == 2000);
        CHECK(c.speed_bps == 1'000'000'000);
        CHECK(c.in_packets == 13);
        CHECK(c.in_errors == 3);
        CHECK(c.out_octets == 777);
        CHECK(c.out_packets == 20);
        CHECK(c.out_discards == 1);
        CHECK(c.admin_up);
        CHECK(c.oper_up);
    });
}

TEST_CASE("sFlow sampled packets reach the handler (passive DNS in sFlow)") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    int seen = 0;
    decoder.on_sampled_packet([&](const collector::PacketView& p, const FlowRecord& r) {
        ++seen;
        CHECK(p.src_port == 53);
        CHECK(p.payload_length > 12);
        CHECK(r.sampling_rate == 8);
    });
    decoder.decode(packet_of(datagram(1, {flow_sample(8, 1, 2, {raw_header(dns_frame(), 92)}),
                                          flow_sample(8, 1, 2, {ipv4_data(60)})})),
                   out);
    CHECK(out.size() == 2);
    CHECK(seen == 1);  // the IPv4-data sample has no packet to show
}

TEST_CASE("sFlow hostile lengths are counted errors, never reads past the datagram") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    auto d = datagram(1, {flow_sample(1, 1, 2, {ipv4_data(60)})});
    SUBCASE("sample length past the end") {
        d.data()[28 + 7] = 0xff;  // the sample's length word
        decoder.decode(packet_of(d), out);
    }
    SUBCASE("record count larger than the sample") {
        d.data()[28 + 8 + 28 + 3] = 200;
        decoder.decode(packet_of(d), out);
    }
    SUBCASE("more samples announced than present") {
        d.data()[27] = 50;
        decoder.decode(packet_of(d), out);
        CHECK(out.size() == 1);  // the one that is there still counts
    }
    CHECK(decoder.totals().decode_errors == 1);
}

TEST_CASE("sFlow and NetFlow v5 from one address and port never share a stream") {
    CHECK(collector::is_flow_export(datagram(1, {flow_sample(1, 1, 2, {ipv4_data(60)})}).data()));
    Bytes not_sflow;
    not_sflow.u32(5).u32(3);  // version 5, unknown address type
    CHECK_FALSE(collector::is_flow_export(not_sflow.data()));
}
