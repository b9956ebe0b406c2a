#include <flowguard/collector/flow_decoder.hpp>

#include <doctest/doctest.h>

#include <export_builder.hpp>

using namespace flowguard;
using namespace flowguard::test;

namespace {

constexpr std::uint32_t kUptime = 3'600'000;
constexpr std::uint32_t kSecs = 1'700'000'000;

Bytes ipv4_template() {
    return set(0, template_record(256, {{8, 4},
                                        {12, 4},
                                        {7, 2},
                                        {11, 2},
                                        {4, 1},
                                        {2, 4},
                                        {1, 4},
                                        {22, 4},
                                        {21, 4},
                                        {6, 1},
                                        {10, 2},
                                        {14, 2},
                                        {34, 4}}));
}

Bytes ipv4_record(std::uint8_t host, std::uint32_t bytes) {
    Bytes r;
    r.ipv4(10, 1, 1, host).ipv4(198, 51, 100, 7).u16(50000).u16(53).u8(17).u32(2).u32(bytes);
    r.u32(kUptime - 5000).u32(kUptime - 1000).u8(0).u16(1).u16(2).u32(100);
    return r;
}

Bytes data_set(std::initializer_list<Bytes> records, bool pad = true) {
    Bytes body;
    for (const auto& r : records) body.raw(r.data());
    return set(256, body, pad);
}

}  // namespace

TEST_CASE("v9 template and data in one packet") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    const auto pkt = v9_packet(v9_header(3, kUptime, kSecs, 1, 7),
                               {ipv4_template(), data_set({ipv4_record(1, 100), ipv4_record(2, 200)})});
    decoder.decode(packet_of(pkt), out);
    REQUIRE(out.size() == 2);
    CHECK(out[0].type == FlowType::netflow_v9);
    CHECK(out[0].src_addr.to_string() == "10.1.1.1");
    CHECK(out[1].bytes == 200);
    CHECK(out[1].proto == 17);
    CHECK(out[1].dst_port == 53);
    CHECK(out[1].sampling_rate == 100);
    CHECK(out[1].observation_domain_id == 7);
    CHECK(out[1].time_flow_start_ns == (kSecs - 5ull) * 1'000'000'000ull);
    CHECK(out[1].time_flow_end_ns == (kSecs - 1ull) * 1'000'000'000ull);
    CHECK(decoder.template_count() == 1);
}

TEST_CASE("data that arrives before its template is decoded when the template comes") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    decoder.decode(packet_of(v9_packet(v9_header(1, kUptime, kSecs, 1, 0), {data_set({ipv4_record(1, 100)})})), out);
    CHECK(out.empty());
    decoder.decode(packet_of(v9_packet(v9_header(1, kUptime, kSecs, 2, 0), {data_set({ipv4_record(2, 200)})})), out);
    CHECK(out.empty());
    decoder.decode(packet_of(v9_packet(v9_header(1, kUptime + 10, kSecs, 3, 0), {ipv4_template()})), out);
    REQUIRE(out.size() == 2);
    CHECK(out[0].bytes == 100);  // arrival order kept
    CHECK(out[1].bytes == 200);
    CHECK(out[0].time_flow_end_ns == (kSecs - 1ull) * 1'000'000'000ull);  // dated by its own packet's header
    const auto t = decoder.totals();
    CHECK(t.unknown_template == 0);
    CHECK(t.records == 2);
    CHECK(t.sequence_lost == 0);
}

TEST_CASE("data whose template never comes is counted, after the pending window or at the end") {
    CollectorConfig config;
    config.pending.max_age_ns = 1'000'000'000;
    collector::FlowDecoder decoder(config);
    std::vector<FlowRecord> out;
    const std::uint64_t t0 = 1'700'000'000'000'000'000ull;
    decoder.decode(packet_of(v9_packet(v9_header(1, kUptime, kSecs, 1, 0), {data_set({ipv4_record(1, 1)})}), t0), out);
    decoder.expire(t0 + 500'000'000);
    CHECK(decoder.totals().unknown_template == 0);
    decoder.expire(t0 + 1'500'000'000);
    CHECK(decoder.totals().unknown_template == 1);
    decoder.decode(packet_of(v9_packet(v9_header(1, kUptime, kSecs, 2, 0), {data_set({ipv4_record(1, 1)})}), t0), out);
    decoder.finish();
    CHECK(decoder.totals().unknown_template == 2);
    CHECK(out.empty());
}

TEST_CASE("pending data is bounded per template and in bytes") {
    CollectorConfig config;
    config.pending.max_sets_per_template = 4;
    collector::FlowDecoder decoder(config);
    std::vector<FlowRecord> out;
    for (std::uint32_t i = 0; i < 10; ++i)
        decoder.decode(packet_of(v9_packet(v9_header(1, kUptime, kSecs, i, 0), {data_set({ipv4_record(1, i)})})), out);
    CHECK(decoder.totals().unknown_template == 6);
    decoder.decode(packet_of(v9_packet(v9_header(1, kUptime, kSecs, 10, 0), {ipv4_template()})), out);
    CHECK(out.size() == 4);
}

TEST_CASE("templates are per exporter, port and source id") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    decoder.decode(packet_of(v9_packet(v9_header(1, kUptime, kSecs, 1, 1), {ipv4_template()})), out);
    // Same template id from another source id and another port: unknown there.
    decoder.decode(packet_of(v9_packet(v9_header(1, kUptime, kSecs, 1, 2), {data_set({ipv4_record(1, 1)})})), out);
    decoder.decode(packet_of(v9_packet(v9_header(1, kUptime, kSecs, 1, 1), {data_set({ipv4_record(1, 1)})}),
                             1'700'000'000'000'000'000ull, 40001),
                   out);
    CHECK(out.empty());
    decoder.decode(packet_of(v9_packet(v9_header(1, kUptime, kSecs, 2, 1), {data_set({ipv4_record(1, 1)})})), out);
    CHECK(out.size() == 1);
}

TEST_CASE("v9 sequence counts packets; lost packets are reported") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    decoder.decode(packet_of(v9_packet(v9_header(1, kUptime, kSecs, 10, 0), {ipv4_template()})), out);
    decoder.decode(
        packet_of(v9_packet(v9_header(2, kUptime, kSecs, 11, 0), {data_set({ipv4_record(1, 1), ipv4_record(2, 2)})})),
        out);
    decoder.decode(packet_of(v9_packet(v9_header(1, kUptime, kSecs, 14, 0), {data_set({ipv4_record(3, 3)})})), out);
    decoder.decode(packet_of(v9_packet(v9_header(1, kUptime, kSecs, 12, 0), {data_set({ipv4_record(4, 4)})})), out);
    const auto t = decoder.totals();
    CHECK(t.sequence_lost == 1);  // 13 never came; 12 came late
    CHECK(t.sequence_reordered == 1);
}

TEST_CASE("v9 options data sets the sampling rate per sampler id") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    // Options template 257: scope = system (type 1, 4 bytes); options = sampler id (48, 1), interval (50, 4).
    Bytes opt;
    opt.u16(257).u16(4).u16(8).u16(1).u16(4).u16(48).u16(1).u16(50).u16(4);
    Bytes opt_data;
    opt_data.u32(0).u8(3).u32(2000);
    const auto data_template = set(0, template_record(260, {{8, 4}, {12, 4}, {48, 1}, {1, 4}}));
    Bytes rec;
    rec.ipv4(10, 0, 0, 1).ipv4(10, 0, 0, 2).u8(3).u32(1500);
    Bytes other;
    other.ipv4(10, 0, 0, 1).ipv4(10, 0, 0, 2).u8(9).u32(1500);
    Bytes both;
    both.raw(rec.data()).raw(other.data());
    decoder.decode(packet_of(v9_packet(v9_header(4, kUptime, kSecs, 1, 0),
                                       {set(1, opt, true), set(257, opt_data, true), data_template, set(260, both)})),
                   out);
    REQUIRE(out.size() == 2);
    CHECK(out[0].sampling_rate == 2000);
    CHECK(out[1].sampling_rate == 0);                              // sampler 9 never announced
    CHECK(out[0].time_flow_start_ns == kSecs * 1'000'000'000ull);  // no times in the record: export time
}

TEST_CASE("a v9 packet with a set longer than the packet stops at that set") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    auto pkt = v9_packet(v9_header(2, kUptime, kSecs, 1, 0), {ipv4_template(), data_set({ipv4_record(1, 1)})});
    pkt.data().resize(pkt.size() - 8);
    decoder.decode(packet_of(pkt), out);
    CHECK(out.empty());
    CHECK(decoder.totals().decode_errors == 1);
    CHECK(decoder.template_count() == 1);  // what came before the damage is kept
}
