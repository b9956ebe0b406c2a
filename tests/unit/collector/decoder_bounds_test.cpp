// What a hostile sender can make one decoder hold, and that a flood never locks out a valid exporter: stream
// eviction (probation before proven, per-address share, pinned exporters), the template budget in bytes, the
// pending store's true cost, held sets kept when the store was full, and the process-wide shares.
#include <flowguard/collector/flow_decoder.hpp>
#include <flowguard/collector/report.hpp>
#include <flowguard/collector/template_state.hpp>

#include <boost/json/serialize.hpp>
#include <doctest/doctest.h>

#include <unistd.h>

#include <export_builder.hpp>
#include <filesystem>

using namespace flowguard;
using namespace flowguard::test;

namespace {

constexpr std::uint64_t kStart = 1'700'000'000'000'000'000ull;

// A v9 exporter at `address`: its template in its first datagram only (as after a long run, the next resend
// minutes away), so a stream that lost its state would decode nothing more.
struct ControlExporter {
    std::uint32_t address;
    std::uint16_t port = 2055;
    std::uint32_t sequence = 0;

    collector::ExportPacket datagram(std::uint64_t now_ns, int records, Bytes& storage) {
        Bytes data;
        for (int i = 0; i < records; ++i) data.ipv4(10, 0, 0, 1).ipv4(10, 0, 0, 2).u32(100);
        const auto header = v9_header(2, 1000 + sequence, 1'700'000'000, sequence, 0);
        storage = sequence == 0
                      ? v9_packet(header, {set(0, template_record(256, {{8, 4}, {12, 4}, {1, 4}})), set(256, data)})
                      : v9_packet(header, {set(256, data)});
        ++sequence;
        auto p = packet_of(storage, now_ns, port);
        p.exporter = IpAddress::from_v4(address);
        return p;
    }
};

// A header-only v9 datagram from a spoofed source: a new stream that never decodes anything.
collector::ExportPacket spoofed(std::uint32_t address, std::uint32_t domain, std::uint64_t now_ns, Bytes& storage) {
    storage = v9_packet(v9_header(0, 1, 1, 1, domain), {});
    auto p = packet_of(storage, now_ns);
    p.exporter = IpAddress::from_v4(address);
    return p;
}

std::size_t streams_of(const collector::FlowDecoder& decoder, std::uint32_t address) {
    std::size_t n = 0;
    decoder.for_each_stream([&](const collector::StreamKey& key, const collector::ExporterStats&) {
        n += key.exporter == IpAddress::from_v4(address);
    });
    return n;
}

}  // namespace

TEST_CASE("a stream flood neither drops an established exporter nor locks out a new one") {
    CollectorConfig config;
    config.max_streams = 64;
    collector::FlowDecoder decoder(config);
    std::vector<FlowRecord> out;
    ControlExporter control{0x0a010101};
    Bytes storage;
    std::uint64_t now = kStart;
    std::size_t control_records = 0;
    for (int i = 0; i < 8; ++i) {  // established before the flood
        out.clear();
        decoder.decode(control.datagram(now += 1'000'000, 3, storage), out);
        control_records += out.size();
    }
    // 20,000 spoofed sources (one datagram each, as many addresses), the control exporter every 100.
    for (std::uint32_t i = 0; i < 20'000; ++i) {
        out.clear();
        decoder.decode(spoofed(0xc6120000 + i, i, now += 1000, storage), out);
        if (i % 100 == 0) {
            decoder.decode(control.datagram(now += 1000, 3, storage), out);
            control_records += out.size();
        }
    }
    CHECK(control_records == (8 + 200) * 3);
    // A new exporter after the flood, and during another one: every record decoded from its first datagram.
    ControlExporter newcomer{0x0a020202};
    out.clear();
    decoder.decode(newcomer.datagram(now += 1000, 5, storage), out);
    CHECK(out.size() == 5);
    std::size_t newcomer_records = 0;
    for (std::uint32_t i = 0; i < 5'000; ++i) {
        decoder.decode(spoofed(0xc6130000 + i, i, now += 1000, storage), out);
        if (i % 50 == 0) {
            out.clear();
            decoder.decode(newcomer.datagram(now += 1000, 5, storage), out);
            newcomer_records += out.size();
        }
    }
    CHECK(newcomer_records == 100 * 5);
    const auto totals = decoder.totals();
    CHECK(totals.streams == 64);
    CHECK(totals.streams_evicted == 20'000 + 5'000 + 2 - 64);
    CHECK(totals.stream_limit_drops == 0);
    CHECK(totals.packets == 8 + 20'000 + 200 + 1 + 5'000 + 100);
    CHECK(totals.records == (8 + 200) * 3 + 5 + 100 * 5);  // counts of evicted streams are kept
}

TEST_CASE("one address cannot hold more than its share of streams; a restart on a new port replaces the old") {
    CollectorConfig config;
    config.max_streams = 1000;
    config.max_streams_per_exporter = 16;
    collector::FlowDecoder decoder(config);
    std::vector<FlowRecord> out;
    Bytes storage;
    std::uint64_t now = kStart;
    ControlExporter other{0x0a010101};
    decoder.decode(other.datagram(now += 1000, 1, storage), out);
    for (std::uint32_t domain = 0; domain < 200'000; ++domain)
        decoder.decode(spoofed(0xc6120001, domain, now += 1000, storage), out);
    CHECK(streams_of(decoder, 0xc6120001) == 16);
    CHECK(streams_of(decoder, 0x0a010101) == 1);
    // An exporter that restarts 40 times, each time from a new source port: every restart decodes at once.
    std::size_t records = 0;
    for (std::uint16_t port = 3000; port < 3040; ++port) {
        ControlExporter restarted{0x0a020202, port};
        for (int i = 0; i < 3; ++i) {
            out.clear();
            decoder.decode(restarted.datagram(now += 1000, 2, storage), out);
            records += out.size();
        }
    }
    CHECK(records == 40 * 3 * 2);
    CHECK(streams_of(decoder, 0x0a020202) == 16);
    out.clear();
    decoder.decode(other.datagram(now += 1000, 1, storage), out);
    CHECK(out.size() == 1);
}

TEST_CASE("configured exporters are never evicted; new streams are refused only when every stream is pinned") {
    CollectorConfig config;
    config.max_streams = 2;
    config.exporters = {ExporterSettings{IpAddress::from_v4(0x0a010101), 0}};
    collector::FlowDecoder decoder(config);
    std::vector<FlowRecord> out;
    Bytes storage;
    std::uint64_t now = kStart;
    ControlExporter pinned{0x0a010101};
    for (std::uint16_t port = 1; port <= 2; ++port) {
        pinned.port = port;
        decoder.decode(pinned.datagram(now += 1000, 1, storage), out);
    }
    decoder.decode(spoofed(0xc6120001, 1, now += 1000, storage), out);
    CHECK(decoder.totals().stream_limit_drops == 1);
    CHECK(streams_of(decoder, 0x0a010101) == 2);
}

TEST_CASE("datagrams spoofed from a configured exporter's address cannot fill the table with pinned streams") {
    CollectorConfig config;
    config.max_streams = 100;
    config.max_streams_per_exporter = 8;
    config.exporters = {ExporterSettings{IpAddress::from_v4(0x0a010101), 0}};
    collector::FlowDecoder decoder(config);
    std::vector<FlowRecord> out;
    Bytes storage;
    std::uint64_t now = kStart;
    ControlExporter other{0x0a020202};
    decoder.decode(other.datagram(now += 1000, 1, storage), out);
    for (std::uint32_t domain = 0; domain < 10'000; ++domain)
        decoder.decode(spoofed(0x0a010101, domain, now += 1000, storage), out);
    CHECK(streams_of(decoder, 0x0a010101) == 8);
    CHECK(decoder.totals().streams <= 100);
    out.clear();
    decoder.decode(other.datagram(now += 1000, 3, storage), out);
    CHECK(out.size() == 3);
}

TEST_CASE("templates cost their real size; a template flood from probation streams cannot evict proven ones") {
    CollectorConfig config;
    config.templates.max_bytes = 512u << 10;
    collector::FlowDecoder decoder(config);
    std::vector<FlowRecord> out;
    Bytes storage;
    std::uint64_t now = kStart;
    ControlExporter control{0x0a010101};
    for (int i = 0; i < 8; ++i) decoder.decode(control.datagram(now += 1000, 1, storage), out);
    // 512-field templates from 2,000 spoofed exporters: ~5 KB each, so ~100 fit in 512 KiB.
    Bytes big;
    big.u16(300).u16(512);
    for (int f = 0; f < 512; ++f) big.u16(1).u16(4);
    const auto big_set = set(0, big);
    for (std::uint32_t i = 0; i < 2'000; ++i) {
        storage = v9_packet(v9_header(1, 1, 1, 1, 0), {big_set});
        auto p = packet_of(storage, now += 1000);
        p.exporter = IpAddress::from_v4(0xc6120000 + i);
        decoder.decode(p, out);
    }
    const auto totals = decoder.totals();
    CHECK(totals.template_bytes <= config.templates.max_bytes);
    CHECK(totals.template_bytes >= config.templates.max_bytes - 6000);
    const auto per_template = (totals.template_bytes - 600) / (totals.templates - 1);
    CHECK(per_template > 4096);  // 512 fields of 8 bytes, and the plan
    CHECK(per_template < 8192);
    out.clear();
    decoder.decode(control.datagram(now += 1000, 2, storage), out);
    CHECK(out.size() == 2);
    std::uint64_t control_rejects = 1;
    decoder.for_each_stream([&](const collector::StreamKey& key, const collector::ExporterStats& s) {
        if (key.exporter == IpAddress::from_v4(0x0a010101)) control_rejects = s.template_rejects;
    });
    CHECK(control_rejects == 0);
}

TEST_CASE("each held empty set is charged its bookkeeping, and the store empties after max_age") {
    CollectorConfig config;
    config.pending.max_bytes = 1u << 20;
    collector::FlowDecoder decoder(config);
    std::vector<FlowRecord> out;
    Bytes storage;
    std::uint64_t now = kStart;
    // 200,000 empty (4-byte) data sets for unknown templates, 100 per datagram.
    for (int d = 0; d < 2'000; ++d) {
        Bytes sets;
        for (int i = 0; i < 100; ++i) sets.u16(256 + (d * 100 + i) % 60000).u16(4);
        storage = v9_header(100, 1, 1, static_cast<std::uint32_t>(d), 0);
        storage.raw(sets.data());
        decoder.decode(packet_of(storage, now += 1000), out);
    }
    auto totals = decoder.totals();
    CHECK(totals.pending_bytes <= config.pending.max_bytes);
    CHECK(totals.pending_bytes > config.pending.max_bytes / 2);
    CHECK(totals.unknown_template > 190'000);  // charged ~250 B each, ~4,000 fit
    decoder.expire(now + config.pending.max_age_ns + 1);
    totals = decoder.totals();
    CHECK(totals.pending_bytes == 0);
    CHECK(totals.unknown_template == 200'000);
}

TEST_CASE("a set held while the store was full is decoded when its template comes") {
    CollectorConfig config;
    config.pending.max_bytes = 2000;  // one set of 100 records and its bookkeeping, not two
    collector::FlowDecoder decoder(config);
    std::vector<FlowRecord> out;
    std::uint64_t now = kStart;
    Bytes rec;
    for (int i = 0; i < 100; ++i) rec.ipv4(10, 0, 0, 1).ipv4(10, 0, 0, 2).u32(7);
    // The second set of template 256 makes room by dropping the first, of the same template.
    for (std::uint32_t seq = 0; seq < 2; ++seq)
        decoder.decode(packet_of(v9_packet(v9_header(1, 1, 1, seq, 0), {set(256, rec)}), now += 1000), out);
    CHECK(out.empty());
    decoder.decode(
        packet_of(v9_packet(v9_header(1, 1, 1, 2, 0), {set(0, template_record(256, {{8, 4}, {12, 4}, {1, 4}}))}),
                  now += 1000),
        out);
    CHECK(out.size() == 100);
    CHECK(decoder.totals().unknown_template == 1);
}

TEST_CASE("releasing held data touches only the arriving template's sets, in arrival order") {
    CollectorConfig config;
    config.pending.max_bytes = 64u << 20;
    config.pending.max_sets_per_template = 1000;
    collector::FlowDecoder decoder(config);
    std::vector<FlowRecord> out;
    std::uint64_t now = kStart;
    std::uint32_t seq = 0;
    for (std::uint32_t round = 0; round < 500; ++round)
        for (std::uint16_t id = 256; id < 356; ++id) {
            Bytes rec;
            rec.ipv4(10, 0, 0, 1).ipv4(10, 0, 0, 2).u32(round);
            decoder.decode(packet_of(v9_packet(v9_header(1, 1, 1, seq++, 0), {set(id, rec)}), now += 1000), out);
        }
    CHECK(out.empty());
    for (std::uint16_t id = 256; id < 356; ++id) {
        out.clear();
        decoder.decode(
            packet_of(v9_packet(v9_header(1, 1, 1, seq++, 0), {set(0, template_record(id, {{8, 4}, {12, 4}, {1, 4}}))}),
                      now += 1000),
            out);
        REQUIRE(out.size() == 500);
        for (std::uint32_t i = 0; i < 500; ++i) CHECK(out[i].bytes == i);
    }
    CHECK(decoder.totals().pending_bytes == 0);
}

TEST_CASE("the process-wide caps are divided between receive threads; per-stream caps stay whole") {
    CollectorConfig config;
    config.max_streams = 1000;
    config.max_streams_per_exporter = 100;
    config.max_interfaces = 999;
    config.templates.max_templates = 1000;
    config.templates.max_bytes = 64u << 20;
    config.pending.max_bytes = 8u << 20;
    const auto share = share_per_thread(config, 3);
    CHECK(share.max_streams * 3 <= 1000);
    CHECK(share.max_streams == 333);
    CHECK(share.max_streams_per_exporter == 33);
    CHECK(share.max_interfaces == 333);
    CHECK(share.templates.max_templates == 333);
    CHECK(share.templates.max_bytes * 3 <= config.templates.max_bytes);
    CHECK(share.pending.max_bytes * 3 <= config.pending.max_bytes);
    CHECK(share.templates.max_templates_per_exporter == config.templates.max_templates_per_exporter);
    CHECK(share.pending.max_sets_per_template == config.pending.max_sets_per_template);
    CHECK(share_per_thread(config, 1).max_streams == 1000);
}

TEST_CASE("a saved template is restored only in a shape the wire parser accepts") {
    collector::FlowDecoder decoder(CollectorConfig{});
    const collector::StreamKey ipfix{IpAddress::from_v4(0x0a000001), 4739, 10, 0};
    const collector::StreamKey v9{IpAddress::from_v4(0x0a000001), 2055, 9, 0};
    const std::vector<collector::TemplateField> two{{8, 4, 0}, {12, 4, 0}};
    CHECK(decoder.restore({ipfix, 256, false, 0, two}));
    CHECK(decoder.restore({ipfix, 257, true, 1, two}));
    CHECK_FALSE(decoder.restore({ipfix, 258, true, 0, two}));   // IPFIX options without a scope field
    CHECK_FALSE(decoder.restore({ipfix, 259, false, 1, two}));  // scope fields in a data template
    CHECK_FALSE(decoder.restore({ipfix, 260, true, 3, two}));   // more scope fields than fields
    CHECK_FALSE(decoder.restore({ipfix, 261, false, 0, {{0x8008, 4, 0}, {12, 4, 0}}}));  // id with the PEN bit
    CHECK_FALSE(decoder.restore({ipfix, 262, false, 0, {}}));
    CHECK(decoder.restore({v9, 256, true, 1, {{1, 4, 0xffffffff}, {34, 4, 0}}}));
    CHECK_FALSE(decoder.restore({v9, 257, true, 1, {{1, 4, 0}, {34, 4, 0}}}));  // a v9 scope field as an IE
    CHECK_FALSE(decoder.restore({v9, 258, false, 0, {{8, 4, 9}}}));             // v9 has no enterprises
    CHECK(decoder.template_count() == 3);
}

TEST_CASE("a stream proven before a restart is restored past probation: a flood right after cannot evict it") {
    CollectorConfig config;
    config.max_streams = 64;
    collector::FlowDecoder before(config);
    std::vector<FlowRecord> out;
    ControlExporter control{0x0a010101};
    Bytes storage;
    std::uint64_t now = kStart;
    for (int i = 0; i < 8; ++i) before.decode(control.datagram(now += 1'000'000, 3, storage), out);
    // A source that sent one template and nothing else stays on probation, in the state file too.
    storage = v9_packet(v9_header(1, 1, 1, 1, 0), {set(0, template_record(300, {{8, 4}, {12, 4}}))});
    auto once = packet_of(storage, now += 1000);
    once.exporter = IpAddress::from_v4(0xc6330001);
    before.decode(once, out);
    REQUIRE(before.template_count() == 2);
    const auto path = std::filesystem::temp_directory_path() / ("fg-proven-" + std::to_string(::getpid()) + ".json");
    collector::save_template_state(path.string(), {&before});

    collector::FlowDecoder after(config);
    const auto loaded = collector::load_template_state(path.string(), {&after});
    std::filesystem::remove(path);
    CHECK(loaded.templates == 2);
    for (std::uint32_t i = 0; i < 20'000; ++i) after.decode(spoofed(0xc6120000 + i, i, now += 1000, storage), out);
    CHECK(after.template_count() == 1);  // the one-template source went with the flood; the control stayed
    std::size_t records = 0;
    for (int i = 0; i < 10; ++i) {  // data only: the template was in the control's first datagram, before
        out.clear();
        after.decode(control.datagram(now += 1'000'000, 3, storage), out);
        records += out.size();
    }
    CHECK(records == 30);
}

TEST_CASE("the stop summary lists at most 1,000 streams, those that decoded the most, and counts the rest") {
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    Bytes storage;
    std::uint64_t now = kStart;
    ControlExporter control{0x0a010101};
    for (int i = 0; i < 3; ++i) decoder.decode(control.datagram(now += 1000, 2, storage), out);
    for (std::uint32_t i = 0; i < 5'000; ++i) decoder.decode(spoofed(0xc6120000 + i, 0, now += 1000, storage), out);
    boost::json::object summary;
    const collector::FlowDecoder* decoders[] = {&decoder};
    collector::add_decoder_summary(summary, decoders);
    const auto& listed = summary.at("exporters").as_array();
    CHECK(listed.size() == collector::kMaxSummaryStreams);
    CHECK(summary.at("exporters_omitted").as_uint64() + listed.size() == 5'001);
    CHECK(listed.at(0).as_object().at("exporter").as_string() == "10.1.1.1");
    CHECK(boost::json::serialize(summary).size() < 1'000'000);
}
