#include <flowguard/collector/flow_decoder.hpp>
#include <flowguard/collector/pcap_datagrams.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <export_builder.hpp>
#include <string>

using namespace flowguard;
using namespace flowguard::test;

namespace {

Bytes v5_packet(std::uint16_t count, std::uint32_t sequence, std::uint16_t sampling = 0,
                std::uint32_t uptime = 100'000) {
    Bytes b;
    b.u16(5).u16(count).u32(uptime).u32(1'700'000'000).u32(500'000'000).u32(sequence).u8(1).u8(2).u16(sampling);
    for (std::uint16_t i = 0; i < count; ++i) {
        b.ipv4(10, 0, 0, static_cast<std::uint8_t>(i)).ipv4(192, 0, 2, 9).ipv4(10, 0, 0, 254);
        b.u16(3).u16(4);                          // in/out interface
        b.u32(5).u32(300 + i);                    // packets, bytes
        b.u32(uptime - 2000).u32(uptime - 1000);  // first/last switched
        b.u16(40000 + i).u16(443);
        b.u8(0).u8(0x1b).u8(6).u8(0x20);  // pad, flags, proto, tos
        b.u16(64500).u16(64501).u8(24).u8(16).u16(0);
    }
    return b;
}

}  // namespace

TEST_CASE("NetFlow v5 records decode with absolute times from sysUptime") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    const auto pkt = v5_packet(2, 1000, 0x4000 | 64);
    decoder.decode(packet_of(pkt), out);
    REQUIRE(out.size() == 2);
    const auto& r = out[1];
    CHECK(r.type == FlowType::netflow_v5);
    CHECK(r.src_addr.to_string() == "10.0.0.1");
    CHECK(r.dst_addr.to_string() == "192.0.2.9");
    CHECK(r.next_hop.to_string() == "10.0.0.254");
    CHECK(r.src_port == 40001);
    CHECK(r.dst_port == 443);
    CHECK(r.proto == 6);
    CHECK(r.tcp_flags == 0x1b);
    CHECK(r.ip_tos == 0x20);
    CHECK(r.packets == 5);
    CHECK(r.bytes == 301);
    CHECK(r.in_if == 3);
    CHECK(r.out_if == 4);
    CHECK(r.src_as == 64500);
    CHECK(r.src_mask == 24);
    CHECK(r.sampling_rate == 64);
    CHECK(r.observation_domain_id == 0x0102);
    // export time 1700000000.5 s, uptime 100 s: first switched 98 s -> 2 s before export.
    CHECK(r.time_flow_start_ns == 1'699'999'998'500'000'000ull);
    CHECK(r.time_flow_end_ns == 1'699'999'999'500'000'000ull);
}

TEST_CASE("NetFlow v5 sequence counts flows") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    decoder.decode(packet_of(v5_packet(3, 0)), out);
    decoder.decode(packet_of(v5_packet(3, 3)), out);
    decoder.decode(packet_of(v5_packet(3, 10)), out);  // flows 6..9 lost
    decoder.decode(packet_of(v5_packet(3, 10)), out);  // duplicate
    const auto t = decoder.totals();
    CHECK(t.sequence_lost == 4);
    CHECK(t.sequence_duplicate == 1);
    CHECK(t.records == 12);
}

TEST_CASE("a v5 exporter whose uptime goes back restarted") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    decoder.decode(packet_of(v5_packet(1, 500, 0, 900'000)), out);
    decoder.decode(packet_of(v5_packet(1, 0, 0, 5'000)), out);
    bool seen = false;
    decoder.for_each_stream([&](const collector::StreamKey&, const collector::ExporterStats& s) {
        CHECK(s.sequence.restarts == 1);
        CHECK(s.sequence.lost == 0);
        seen = true;
    });
    CHECK(seen);
}

TEST_CASE("truncated and inconsistent v5 packets are counted errors") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    auto pkt = v5_packet(2, 0);
    pkt.data().resize(pkt.size() - 1);  // count says 2 records, 1 byte missing
    decoder.decode(packet_of(pkt), out);
    auto zero = v5_packet(1, 0);
    zero.put16(2, 0);
    decoder.decode(packet_of(zero), out);
    auto too_many = v5_packet(1, 0);
    too_many.put16(2, 31);
    decoder.decode(packet_of(too_many), out);
    CHECK(out.empty());
    CHECK(decoder.totals().decode_errors == 3);
}

TEST_CASE("a configured sampling rate overrides the exporter's") {
    CollectorConfig config;
    config.exporters.push_back({IpAddress::from_v4(0xc0000201), 1000});
    collector::FlowDecoder decoder(config);
    std::vector<FlowRecord> out;
    decoder.decode(packet_of(v5_packet(1, 0, 0x4000 | 64)), out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].sampling_rate == 1000);
}

TEST_CASE("is_flow_export: a whole v5 message is an export; cut, padded or other payloads are not") {
    const auto packet = v5_packet(3, 1);
    const auto& data = packet.data();
    CHECK(collector::is_flow_export(data));
    CHECK_FALSE(collector::is_flow_export({data.data(), data.size() - 1}));
    auto padded = data;
    padded.push_back(0);
    CHECK_FALSE(collector::is_flow_export(padded));
    Bytes ipfix;
    ipfix.u16(10).u16(20).u32(0).u32(0).u32(0).u16(2).u16(4);
    CHECK(collector::is_flow_export(ipfix.data()));
    Bytes dns;  // a DNS query is not mistaken for an export
    dns.u16(0x1234).u16(0x0100).u16(1).u16(0).u16(0).u16(0).u8(3).u8('w').u8('w').u8('w').u8(0).u16(1).u16(1);
    CHECK_FALSE(collector::is_flow_export(dns.data()));
}

TEST_CASE("is_flow_export: a DNS message whose transaction id reads as version 5, 9 or 10 is not an export") {
    // The id is the first 16 bits, where an export has its version; the flags follow where v5/v9 have their
    // count and IPFIX its length. 1 query in ~22,000 has one of these ids.
    for (const std::uint16_t id : {std::uint16_t{5}, std::uint16_t{9}, std::uint16_t{10}}) {
        for (const std::uint16_t flags :
             {std::uint16_t{0x0100}, std::uint16_t{0x0000}, std::uint16_t{0x8180}, std::uint16_t{0x0120}}) {
            Bytes query;
            query.u16(id).u16(flags).u16(1).u16(0).u16(0).u16(0);
            for (const char* label : {"central", "pima", "gov"}) {
                query.u8(static_cast<std::uint8_t>(std::strlen(label)));
                for (const char* c = label; *c != 0; ++c) query.u8(static_cast<std::uint8_t>(*c));
            }
            query.u8(0).u16(1).u16(1);
            CAPTURE(id);
            CAPTURE(flags);
            CHECK_FALSE(collector::is_flow_export(query.data()));
            // Even one sized so that the IPFIX length field agrees with it.
            Bytes sized = query;
            while (sized.data().size() < flags && flags < 2048) sized.u8('a');
            if (flags >= 20 && flags < 2048) CHECK_FALSE(collector::is_flow_export(sized.data()));
        }
    }
}

TEST_CASE("is_flow_export: v9 and IPFIX sets must tile the message; every real export in the fixtures does") {
    Bytes v9;  // header, then a data set of 8 bytes
    v9.u16(9).u16(1).u32(0).u32(0).u32(0).u32(0).u16(256).u16(8).u32(0);
    CHECK(collector::is_flow_export(v9.data()));
    Bytes short_set = v9;
    short_set.u8(0);  // a byte no set accounts for
    CHECK_FALSE(collector::is_flow_export(short_set.data()));
    Bytes reserved;  // set id 2 is IPFIX's, reserved in v9
    reserved.u16(9).u16(1).u32(0).u32(0).u32(0).u32(0).u16(2).u16(8).u32(0);
    CHECK_FALSE(collector::is_flow_export(reserved.data()));
    Bytes ipfix_v9_ids;  // IPFIX with a v9 template set id
    ipfix_v9_ids.u16(10).u16(24).u32(0).u32(0).u32(0).u16(0).u16(8).u32(0);
    CHECK_FALSE(collector::is_flow_export(ipfix_v9_ids.data()));

    const char* root = std::getenv("FLOWGUARD_FIXTURES");
    REQUIRE(root != nullptr);
    std::size_t datagrams = 0;
    for (const char* name :
         {"corpus/beacon-softflowd-ipfix.pcap", "corpus/beacon-softflowd-v9.pcap", "corpus/beacon-softflowd-v5.pcap",
          "corpus/beacon-pmacctd-v9.pcap", "corpus/beacon-pmacctd-ipfix.pcap", "corpus/pmacctd_sflow_mixed.pcap",
          "pmacct/100-IPFIXv10-CISCO/traffic-00.pcap", "pmacct/101-NFv9-CISCO-cust_primitives/traffic-00.pcap",
          "pmacct/104-IPFIXv10-IPv6-CISCO-sampling_option/traffic-00.pcap",
          "pmacct/106-IPFIXv10-HUAWEI-vrf_name/traffic-00.pcap", "akvorado/netflow/template.pcap",
          "akvorado/netflow/data.pcap", "akvorado/netflow/juniper-cpid-data.pcap",
          "akvorado/netflow/ipfix-srv6-data.pcap", "akvorado/netflow/ipfixprobe-data.pcap"}) {
        collector::PcapDatagramReader reader(std::string(root) + "/" + name);
        collector::ExportPacket packet;
        std::uint16_t port = 0;
        while (reader.next(packet, port)) {
            CAPTURE(name);
            CHECK(collector::is_flow_export(packet.payload));
            ++datagrams;
        }
    }
    CHECK(datagrams > 100);
}
