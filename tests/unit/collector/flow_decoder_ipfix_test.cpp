#include <flowguard/collector/flow_decoder.hpp>

#include <doctest/doctest.h>

#include <export_builder.hpp>

using namespace flowguard;
using namespace flowguard::test;

namespace {

constexpr std::uint32_t kExport = 1'700'000'100;

Bytes v6_template() {
    // IPv6 addresses, ports, proto, reduced-size counters (4 bytes), ms timestamps, ICMPv6 type/code.
    return set(2,
               template_record(
                   300, {{27, 16}, {28, 16}, {7, 2}, {11, 2}, {4, 1}, {1, 4}, {2, 4}, {152, 8}, {153, 8}, {139, 2}}));
}

Bytes v6_record(std::uint64_t start_ms, std::uint16_t icmp) {
    Bytes r;
    r.u32(0x20010db8).u32(0).u32(0).u32(0x10);          // 2001:db8::10
    r.u32(0x20010db8).u32(0x00010000).u32(0).u32(0x1);  // 2001:db8:1::1
    r.u16(0).u16(0).u8(58).u32(240).u32(3).u64(start_ms).u64(start_ms + 53).u16(icmp);
    return r;
}

Bytes v6_records(int n) {
    Bytes b;
    for (int i = 0; i < n; ++i) b.raw(v6_record(static_cast<std::uint64_t>(i), 0).data());
    return b;
}

std::uint64_t ntp(std::uint64_t unix_secs, std::uint32_t frac) {
    return ((unix_secs + 2'208'988'800ull) << 32) | frac;
}

}  // namespace

TEST_CASE("IPFIX IPv6 records with millisecond times and ICMPv6 type/code") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    const auto msg = ipfix_message(kExport, 0, 5, {v6_template(), set(300, v6_record(1'709'294'415'253ull, 0x8000))});
    decoder.decode(packet_of(msg), out);
    REQUIRE(out.size() == 1);
    const auto& r = out[0];
    CHECK(r.type == FlowType::ipfix);
    CHECK(r.etype == kEtherTypeIPv6);
    CHECK(r.src_addr.to_string() == "2001:db8::10");
    CHECK(r.dst_addr.to_string() == "2001:db8:1::1");
    CHECK(r.icmp_type == 128);
    CHECK(r.icmp_code == 0);
    CHECK(r.bytes == 240);
    CHECK(r.time_flow_start_ns == 1'709'294'415'253'000'000ull);
    CHECK(r.time_flow_end_ns == 1'709'294'415'306'000'000ull);
    CHECK(r.observation_domain_id == 5);
}

TEST_CASE("IPFIX time encodings: seconds, micro- and nanosecond NTP, deltas, sysUpTime with systemInitTime") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    Bytes rec;
    rec.ipv4(10, 0, 0, 1).ipv4(10, 0, 0, 2).u32(1'700'000'000).u64(ntp(1'700'000'001, 0x80000000u));
    const auto t1 = set(2, template_record(400, {{8, 4}, {12, 4}, {150, 4}, {155, 8}}));
    Bytes rec2;
    rec2.ipv4(10, 0, 0, 1).ipv4(10, 0, 0, 2).u64(ntp(1'700'000'002, 0x40000000u)).u32(1'500'000).u32(500'000);
    const auto t2 = set(2, template_record(401, {{8, 4}, {12, 4}, {156, 8}, {158, 4}, {159, 4}}));
    decoder.decode(packet_of(ipfix_message(kExport, 0, 0, {t1, set(400, rec), t2, set(401, rec2)})), out);
    REQUIRE(out.size() == 2);
    CHECK(out[0].time_flow_start_ns == 1'700'000'000'000'000'000ull);
    CHECK(out[0].time_flow_end_ns == 1'700'000'001'500'000'000ull);
    CHECK(out[1].time_flow_start_ns == kExport * 1'000'000'000ull - 1'500'000'000ull);  // delta from export time
    CHECK(out[1].time_flow_end_ns == kExport * 1'000'000'000ull - 500'000'000ull);

    // sysUpTime-relative (21/22) times need systemInitTimeMilliseconds (160) from options data.
    Bytes opt_tmpl;
    opt_tmpl.u16(258).u16(2).u16(1).u16(143).u16(4).u16(160).u16(8);
    Bytes opt_data;
    opt_data.u32(1).u64(1'709'294'400'000ull);
    Bytes rel;
    rel.ipv4(10, 0, 0, 3).ipv4(10, 0, 0, 4).u32(15'253).u32(15'306);
    const auto t3 = set(2, template_record(402, {{8, 4}, {12, 4}, {22, 4}, {21, 4}}));
    decoder.decode(packet_of(ipfix_message(kExport, 2, 0, {set(3, opt_tmpl), set(258, opt_data), t3, set(402, rel)})),
                   out);
    REQUIRE(out.size() == 3);
    CHECK(out[2].time_flow_start_ns == 1'709'294'415'253'000'000ull);
    CHECK(out[2].time_flow_end_ns == 1'709'294'415'306'000'000ull);
}

TEST_CASE("IPFIX variable-length fields, enterprise fields and padding") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    Bytes tmpl;
    // src, interfaceName (variable), an enterprise element (PEN 9, 2 bytes), dst port.
    tmpl.u16(500).u16(4).u16(8).u16(4).u16(82).u16(65535).u16(0x8000 | 12).u16(2).u32(9).u16(11).u16(2);
    Bytes data;
    data.ipv4(10, 9, 9, 9).u8(3).u8('e').u8('t').u8('h').u16(0xbeef).u16(443);  // short length
    data.ipv4(10, 9, 9, 8).u8(255).u16(300).zeros(300).u16(0xbeef).u16(8443);   // long length
    decoder.decode(packet_of(ipfix_message(kExport, 0, 0, {set(2, tmpl), set(500, data, true)})), out);
    REQUIRE(out.size() == 2);
    CHECK(out[0].src_addr.to_string() == "10.9.9.9");
    CHECK(out[0].dst_port == 443);
    CHECK(out[1].dst_port == 8443);
    CHECK(decoder.totals().decode_errors == 0);
}

TEST_CASE("IPFIX template withdrawal removes the template") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    decoder.decode(packet_of(ipfix_message(kExport, 0, 0, {v6_template()})), out);
    CHECK(decoder.template_count() == 1);
    Bytes withdraw;
    withdraw.u16(300).u16(0);
    decoder.decode(packet_of(ipfix_message(kExport, 0, 0, {set(2, withdraw)})), out);
    CHECK(decoder.template_count() == 0);
    decoder.decode(packet_of(ipfix_message(kExport, 0, 0, {v6_template()})), out);
    Bytes withdraw_all;
    withdraw_all.u16(2).u16(0);
    decoder.decode(packet_of(ipfix_message(kExport, 0, 0, {set(2, withdraw_all)})), out);
    CHECK(decoder.template_count() == 0);
}

TEST_CASE("IPFIX sequence counts data records") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    Bytes two;
    two.raw(v6_record(1, 0).data()).raw(v6_record(2, 0).data());
    decoder.decode(packet_of(ipfix_message(kExport, 100, 0, {v6_template(), set(300, two)})), out);
    decoder.decode(packet_of(ipfix_message(kExport, 102, 0, {set(300, v6_record(3, 0))})), out);
    decoder.decode(packet_of(ipfix_message(kExport, 110, 0, {set(300, v6_record(4, 0))})), out);
    const auto t = decoder.totals();
    CHECK(t.records == 4);
    CHECK(t.sequence_lost == 7);
}

TEST_CASE("softflowd's inclusive IPFIX numbering is recognised and not reported as loss") {
    // softflowd 1.1.0: sequence = flow records sent including this message's (17 -> 40 with 23 flows next).
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    decoder.decode(packet_of(ipfix_message(kExport, 3, 0, {v6_template(), set(300, v6_records(3))})), out);
    decoder.decode(packet_of(ipfix_message(kExport, 8, 0, {set(300, v6_records(5))})), out);
    decoder.decode(packet_of(ipfix_message(kExport, 10, 0, {set(300, v6_records(2))})), out);
    decoder.decode(packet_of(ipfix_message(kExport, 17, 0, {set(300, v6_records(4))})), out);  // 3 records lost
    const auto t = decoder.totals();
    CHECK(t.records == 14);
    CHECK(t.sequence_lost == 3);
    CHECK(t.sequence_reordered == 0);
}

TEST_CASE("once an exporter's IPFIX numbering is clear, its reading alone is kept and reports later loss") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    // RFC 7011 numbering (records sent before this message) with 1 and 3 records in turn: the inclusive
    // reading trips on every message, so after enough of them only the RFC reading is kept.
    std::uint32_t seq = 0;
    for (int i = 0; i < 80; ++i) {
        const int n = i % 2 == 0 ? 1 : 3;
        decoder.decode(packet_of(ipfix_message(kExport, seq, 0, {v6_template(), set(300, v6_records(n))})), out);
        seq += static_cast<std::uint32_t>(n);
    }
    CHECK(decoder.totals().sequence_lost == 0);
    seq += 1000;  // then 1,000 records are lost: more anomalies than the inclusive reading had collected
    for (int i = 0; i < 4; ++i, seq += 3)
        decoder.decode(packet_of(ipfix_message(kExport, seq, 0, {set(300, v6_records(3))})), out);
    CHECK(decoder.totals().sequence_lost == 1000);
    CHECK(decoder.totals().sequence_reordered == 0);
}

TEST_CASE("IPFIX sampling from samplingPacketInterval/Space and from random n-out-of-N options") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    Bytes opt_tmpl;  // scope selectorId (302), then 305, 306
    opt_tmpl.u16(259).u16(3).u16(1).u16(302).u16(4).u16(305).u16(4).u16(306).u16(4);
    Bytes opt_data;
    opt_data.u32(7).u32(1).u32(99);
    Bytes rec;
    rec.ipv4(10, 0, 0, 1).ipv4(10, 0, 0, 2).u32(7);
    decoder.decode(packet_of(ipfix_message(kExport, 0, 0,
                                           {set(3, opt_tmpl), set(259, opt_data),
                                            set(2, template_record(600, {{8, 4}, {12, 4}, {302, 4}})), set(600, rec)})),
                   out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].sampling_rate == 100);
}

TEST_CASE("a sampling rate beyond 2^32-1 is refused and counted; records keep the rate announced before") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    Bytes opt_tmpl;  // scope selectorId (302), then samplingSize (309) and samplingPopulation (310), 8 bytes
    opt_tmpl.u16(259).u16(3).u16(1).u16(302).u16(4).u16(309).u16(8).u16(310).u16(8);
    Bytes sane;
    sane.u32(7).u64(1).u64(100);
    Bytes hostile;
    hostile.u32(7).u64(1).u64(UINT64_MAX);
    Bytes rec;
    rec.ipv4(10, 0, 0, 1).ipv4(10, 0, 0, 2).u32(7);
    const auto data_template = set(2, template_record(600, {{8, 4}, {12, 4}, {302, 4}}));
    decoder.decode(packet_of(ipfix_message(kExport, 0, 0, {set(3, opt_tmpl), set(259, sane), data_template})), out);
    decoder.decode(packet_of(ipfix_message(kExport, 0, 0, {set(259, hostile), set(600, rec)})), out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].sampling_rate == 100);
    std::uint64_t rejects = 0;
    decoder.for_each_stream(
        [&](const collector::StreamKey&, const collector::ExporterStats& s) { rejects += s.sampling_rejects; });
    CHECK(rejects == 1);
}

TEST_CASE("a message length beyond the datagram is an error") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    auto msg = ipfix_message(kExport, 0, 0, {v6_template()});
    msg.put16(2, static_cast<std::uint16_t>(msg.size() + 10));
    decoder.decode(packet_of(msg), out);
    CHECK(decoder.totals().decode_errors == 1);
    CHECK(decoder.template_count() == 0);
}

TEST_CASE("a held data set whose first field is a 1-byte value decodes once its template comes") {
    // Typed decoding reads each field through an 8-byte load ending at the field; the held copy of a set
    // must provide those bytes before its first record (ASan checks this in the asan preset).
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    Bytes data;
    data.u8(17).u16(53).ipv4(10, 1, 1, 1).u8(6).u16(443).ipv4(10, 1, 1, 2);
    decoder.decode(packet_of(ipfix_message(kExport, 0, 0, {set(600, data)})), out);
    CHECK(out.empty());
    decoder.decode(packet_of(ipfix_message(kExport, 0, 0, {set(2, template_record(600, {{4, 1}, {11, 2}, {8, 4}}))})),
                   out);
    REQUIRE(out.size() == 2);
    CHECK(out[0].proto == 17);
    CHECK(out[0].dst_port == 53);
    CHECK(out[0].src_addr.to_string() == "10.1.1.1");
    CHECK(out[1].proto == 6);
    CHECK(out[1].dst_port == 443);
}

TEST_CASE("records with many variable-length fields, and ones cut short inside a later segment") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    // 20 variable-length fields (beyond kMaxTypedSegments: walked field by field), then the source.
    Bytes many_tmpl;
    many_tmpl.u16(700).u16(21);
    for (int i = 0; i < 20; ++i) many_tmpl.u16(82).u16(65535);
    many_tmpl.u16(8).u16(4);
    Bytes many;
    for (int i = 0; i < 20; ++i) many.u8(1).u8('x');
    many.ipv4(10, 7, 7, 7);
    // Two variable-length fields (typed): the port sits after both; the second record is cut short.
    Bytes two_tmpl;
    two_tmpl.u16(701).u16(4).u16(8).u16(4).u16(82).u16(65535).u16(96).u16(65535).u16(7).u16(2);
    Bytes two;
    two.ipv4(10, 8, 8, 8).u8(2).u8('a').u8('b').u8(255).u16(3).u8('c').u8('d').u8('e').u16(8080);
    two.ipv4(10, 8, 8, 9).u8(2).u8('a').u8('b').u8(40).u8('x');  // says 40 bytes, 1 follows
    decoder.decode(
        packet_of(ipfix_message(kExport, 0, 0, {set(2, many_tmpl), set(700, many), set(2, two_tmpl), set(701, two)})),
        out);
    REQUIRE(out.size() == 2);
    CHECK(out[0].src_addr.to_string() == "10.7.7.7");
    CHECK(out[1].src_addr.to_string() == "10.8.8.8");
    CHECK(out[1].src_port == 8080);
    CHECK(decoder.totals().decode_errors == 1);
}

TEST_CASE("a template carrying both an IPv4 and an IPv6 source keeps the later one, as announced") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    Bytes rec;
    rec.u32(0x20010db8).u32(0).u32(0).u32(0x5).ipv4(10, 0, 0, 5);
    decoder.decode(
        packet_of(ipfix_message(kExport, 0, 0, {set(2, template_record(800, {{27, 16}, {8, 4}})), set(800, rec)})),
        out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].src_addr.to_string() == "10.0.0.5");
    CHECK(out[0].etype == kEtherTypeIPv4);
}
