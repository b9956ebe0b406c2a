// Memory of decoder state: RSS with many exporters x templates at steady state, and under a template
// flood (random template ids and field lists from spoofed exporters), where the configured caps must
// hold memory flat. Prints JSON.  build/release/bench/template_memory [--exporters 10000] [--templates 10]
#include "process_probes.hpp"

#include <flowguard/collector/flow_decoder.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

using namespace flowguard;
using flowguard::bench::rss_kib;

namespace {

void u16(std::vector<std::uint8_t>& o, unsigned v) {
    o.push_back(static_cast<std::uint8_t>(v >> 8));
    o.push_back(static_cast<std::uint8_t>(v));
}
void u32(std::vector<std::uint8_t>& o, std::uint32_t v) {
    u16(o, v >> 16);
    u16(o, v & 0xffff);
}

// An IPFIX message carrying `count` templates of `fields` fields each, ids from `first_id`.
std::vector<std::uint8_t> template_message(std::uint16_t first_id, unsigned count, unsigned fields, std::mt19937& rng) {
    std::vector<std::uint8_t> m;
    u16(m, 10);
    u16(m, 0);
    u32(m, 1'700'000'000);
    u32(m, 0);
    u32(m, 0);
    const std::size_t set_start = m.size();
    u16(m, 2);
    u16(m, 0);
    for (unsigned t = 0; t < count; ++t) {
        u16(m, first_id + t);
        u16(m, fields);
        for (unsigned f = 0; f < fields; ++f) {
            u16(m, static_cast<unsigned>(1 + rng() % 300));
            u16(m, static_cast<unsigned>(1 + rng() % 8));
        }
    }
    const auto set_len = m.size() - set_start;
    m[set_start + 2] = static_cast<std::uint8_t>(set_len >> 8);
    m[set_start + 3] = static_cast<std::uint8_t>(set_len);
    m[2] = static_cast<std::uint8_t>(m.size() >> 8);
    m[3] = static_cast<std::uint8_t>(m.size());
    return m;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{"decoder state memory"};
    unsigned exporters = 10000;
    unsigned templates = 10;
    unsigned flood = 200000;
    cli.add_option("--exporters", exporters);
    cli.add_option("--templates", templates, "templates per exporter");
    cli.add_option("--flood", flood, "templates sent by spoofed exporters in the flood phase");
    CLI11_PARSE(cli, argc, argv);

    std::mt19937 rng(7);
    const auto base_kib = rss_kib();
    collector::FlowDecoder decoder(CollectorConfig{});
    std::vector<FlowRecord> out;
    for (unsigned e = 0; e < exporters; ++e) {
        const auto msg = template_message(256, templates, 18, rng);
        collector::ExportPacket p;
        p.payload = msg;
        p.exporter = IpAddress::from_v4(0x0a000000u + e);
        p.exporter_port = 2055;
        decoder.decode(p, out);
    }
    const auto steady_kib = rss_kib();
    const auto held = decoder.template_count();

    // Flood: spoofed exporters, each with new template ids, far beyond the caps.
    for (unsigned i = 0; i < flood / 10; ++i) {
        const auto msg = template_message(static_cast<std::uint16_t>(256 + (i % 6000) * 10), 10,
                                          static_cast<unsigned>(18 + rng() % 60), rng);
        collector::ExportPacket p;
        p.payload = msg;
        p.exporter = IpAddress::from_v4(0xc0000000u + static_cast<std::uint32_t>(rng()));
        p.exporter_port = static_cast<std::uint16_t>(rng());
        decoder.decode(p, out);
    }
    const auto flood_kib = rss_kib();
    std::printf(
        "{\"exporters\":%u,\"templates_per_exporter\":%u,\"templates_held\":%zu,\"rss_base_kib\":%zu,"
        "\"rss_steady_kib\":%zu,\"bytes_per_template\":%.0f,\"flood_templates_sent\":%u,"
        "\"templates_held_after_flood\":%zu,\"rss_after_flood_kib\":%zu,\"stream_limit_drops\":%llu}\n",
        exporters, templates, held, base_kib, steady_kib,
        held ? 1024.0 * static_cast<double>(steady_kib - base_kib) / static_cast<double>(held) : 0.0, flood,
        decoder.template_count(), flood_kib, static_cast<unsigned long long>(decoder.totals().stream_limit_drops));
    return 0;
}
