// Hostile and malformed input: every case must end in a counted error or drop, never a crash, a hang or
// unbounded memory. Run under the asan preset too.
#include <flowguard/collector/flow_decoder.hpp>

#include <doctest/doctest.h>

#include <export_builder.hpp>
#include <log_capture.hpp>
#include <random>

using namespace flowguard;
using namespace flowguard::test;

TEST_CASE("zero-length sets, short headers and unknown versions are counted") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    Bytes tiny;
    tiny.u8(0);
    decoder.decode(packet_of(tiny), out);
    Bytes v7;
    v7.u16(7).zeros(30);
    decoder.decode(packet_of(v7), out);
    Bytes short_v9;
    short_v9.u16(9).zeros(10);
    decoder.decode(packet_of(short_v9), out);
    // A set whose length is 0 would loop forever if trusted.
    Bytes zero_set;
    zero_set.u16(256).u16(0);
    decoder.decode(packet_of(v9_packet(v9_header(1, 1, 1, 1, 0), {zero_set})), out);
    CHECK(out.empty());
    CHECK(decoder.totals().decode_errors == 4);
}

TEST_CASE("templates with empty records, too many fields or ids below 256 are refused") {
    CollectorConfig config;
    config.templates.max_fields_per_template = 64;
    collector::FlowDecoder decoder(config);
    std::vector<FlowRecord> out;
    decoder.decode(packet_of(v9_packet(v9_header(1, 1, 1, 1, 0), {set(0, template_record(256, {{8, 0}, {12, 0}}))})),
                   out);
    Bytes many;
    many.u16(257).u16(1000);
    for (int i = 0; i < 1000; ++i) many.u16(1).u16(4);
    decoder.decode(packet_of(v9_packet(v9_header(1, 1, 1, 2, 0), {set(0, many)})), out);
    decoder.decode(packet_of(v9_packet(v9_header(1, 1, 1, 3, 0), {set(0, template_record(12, {{8, 4}}))})), out);
    CHECK(decoder.template_count() == 0);
    std::uint64_t rejects = 0;
    decoder.for_each_stream([&](const collector::StreamKey&, const collector::ExporterStats& s) {
        rejects += s.template_rejects + s.decode_errors;
    });
    CHECK(rejects == 3);
}

TEST_CASE("a template flood is capped per exporter and overall") {
    CollectorConfig config;
    config.templates.max_templates = 100;
    config.templates.max_templates_per_exporter = 30;
    collector::FlowDecoder decoder(config);
    std::vector<FlowRecord> out;
    for (std::uint32_t domain = 0; domain < 10; ++domain) {
        for (std::uint16_t id = 256; id < 356; ++id) {
            decoder.decode(
                packet_of(v9_packet(v9_header(1, 1, 1, id, domain), {set(0, template_record(id, {{8, 4}}))})), out);
        }
    }
    // Each new stream on probation makes room by evicting the oldest: the newest three hold 30 each.
    CHECK(decoder.template_count() == 90);
    std::size_t streams_with_templates = 0;
    decoder.for_each_template([&](const collector::TemplateSnapshot& t) {
        CHECK(t.stream.domain >= 7);
        ++streams_with_templates;
    });
    CHECK(streams_with_templates == 90);
}

TEST_CASE("exporter streams are capped: the least recently active makes room") {
    CollectorConfig config;
    config.max_streams = 8;
    collector::FlowDecoder decoder(config);
    std::vector<FlowRecord> out;
    for (std::uint32_t domain = 0; domain < 50; ++domain)
        decoder.decode(packet_of(v9_packet(v9_header(0, 1, 1, 1, domain), {})), out);
    const auto totals = decoder.totals();
    CHECK(totals.streams == 8);
    CHECK(totals.streams_evicted == 42);
    CHECK(totals.stream_limit_drops == 0);
    CHECK(totals.packets == 50);
}

TEST_CASE("random mutations of valid packets never crash and never grow memory unbounded") {
    CollectorConfig config;
    config.templates.max_templates = 512;
    config.pending.max_bytes = 1u << 16;
    collector::FlowDecoder decoder(config);
    std::vector<FlowRecord> out;
    const auto tmpl = set(2, template_record(300, {{8, 4}, {12, 4}, {82, 65535}, {1, 4}, {152, 8}}));
    Bytes rec;
    rec.ipv4(10, 0, 0, 1).ipv4(10, 0, 0, 2).u8(2).u8('a').u8('b').u32(99).u64(1);
    const auto seed_ipfix = ipfix_message(1'700'000'000, 0, 0, {tmpl, set(300, rec)});
    const auto seed_v9 =
        v9_packet(v9_header(2, 1, 1, 1, 0), {set(0, template_record(256, {{8, 4}, {12, 4}, {1, 4}})),
                                             set(256, Bytes().ipv4(1, 2, 3, 4).ipv4(5, 6, 7, 8).u32(1))});
    std::mt19937 rng(20240301);
    for (int round = 0; round < 20000; ++round) {
        auto pkt = (round % 2 ? seed_ipfix : seed_v9).data();
        const int flips = 1 + static_cast<int>(rng() % 8);
        for (int i = 0; i < flips; ++i) pkt[rng() % pkt.size()] = static_cast<std::uint8_t>(rng());
        if (rng() % 4 == 0) pkt.resize(rng() % pkt.size());
        Bytes b;
        b.raw(pkt);
        out.clear();
        decoder.decode(packet_of(b, 1'700'000'000'000'000'000ull + static_cast<std::uint64_t>(round) * 1'000'000ull,
                                 static_cast<std::uint16_t>(rng() % 4)),
                       out);
        CHECK(out.size() <= 65535);
    }
    decoder.finish();
    CHECK(decoder.template_count() <= 512);
    CHECK(decoder.totals().packets == 20000);
}

TEST_CASE("every refusal is counted under its reason") {
    using collector::Rejection;
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    const auto count = [&](Rejection r) { return decoder.rejections()[static_cast<std::size_t>(r)]; };
    Bytes tiny;
    tiny.u8(0);
    decoder.decode(packet_of(tiny), out);
    Bytes v7;
    v7.u16(7).zeros(30);
    decoder.decode(packet_of(v7), out);
    Bytes zero_set;
    zero_set.u16(256).u16(0);
    decoder.decode(packet_of(v9_packet(v9_header(1, 1, 1, 1, 0), {zero_set})), out);
    Bytes v5;
    v5.u16(5).u16(31).zeros(22);
    decoder.decode(packet_of(v5), out);
    auto long_ipfix = ipfix_message(1'700'000'000, 0, 0, {});
    long_ipfix.put16(2, 200);
    decoder.decode(packet_of(long_ipfix), out);
    decoder.decode(packet_of(v9_packet(v9_header(1, 1, 1, 2, 0), {set(0, template_record(12, {{8, 4}}))})), out);
    Bytes bad_scope;  // v9 options template: scope length 3 is not a multiple of 4
    bad_scope.u16(300).u16(3).u16(4).u16(1).u16(4);
    decoder.decode(packet_of(v9_packet(v9_header(1, 1, 1, 3, 0), {set(1, bad_scope)})), out);
    // A data set of 4 bytes for a template whose records take 8: nothing in it.
    decoder.decode(packet_of(v9_packet(v9_header(2, 1, 1, 4, 0),
                                       {set(0, template_record(256, {{8, 4}, {12, 4}})), set(256, Bytes().u32(1))})),
                   out);
    CHECK(count(Rejection::short_datagram) == 1);
    CHECK(count(Rejection::unknown_version) == 1);
    CHECK(count(Rejection::set_length) == 1);
    CHECK(count(Rejection::v5_count) == 1);
    CHECK(count(Rejection::message_length) == 1);
    CHECK(count(Rejection::template_record) == 1);
    CHECK(count(Rejection::options_scope) == 1);
    CHECK(count(Rejection::short_data_set) == 1);
    std::uint64_t sum = 0;
    for (auto n : decoder.rejections()) sum += n;
    CHECK(sum == 8);
    CHECK(decoder.totals().decode_errors == 7);  // a short data set is refused, not malformed
}

TEST_CASE("datagrams that are no flow export name their sender in the log, at most once a minute") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    test::LogCapture log;
    Bytes v7;
    v7.u16(7).zeros(30);
    const std::uint64_t start = 1'700'000'000'000'000'000ull;
    for (int i = 0; i < 1000; ++i) decoder.decode(packet_of(v7, start + i * 1'000'000ull), out);  // 1 s
    decoder.decode(packet_of(v7, start + 61'000'000'000ull), out);
    const auto text = log.str();
    CHECK(text.find("1 datagram(s) that are not flow exports") != std::string::npos);
    CHECK(text.find("1000 datagram(s)") != std::string::npos);  // the 999 held back and the one after a minute
    CHECK(text.find("192.0.2.1:40000 (32 bytes)") != std::string::npos);
}
