// flowguard analyze INPUT...: the whole pipeline at full speed over captures and flow files (retro-hunt).
// pcap/pcapng: each packet is either a flow export (NetFlow v5/v9, IPFIX: decoded) or traffic (metered, with
// passive DNS). JSON lines: goflow2-style flow records and flowguard DNS events (meter --dns-log output).
#include "commands.hpp"
#include "summary.hpp"

#include <flowguard/analyzer/analyzer.hpp>
#include <flowguard/collector/flow_decoder.hpp>
#include <flowguard/collector/span_meter.hpp>
#include <flowguard/core/byte_order.hpp>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace flowguard::app {
namespace {

bool looks_like_flow_export(const collector::PacketView& p) {
    return p.proto == 17 && p.fragment == collector::FragmentKind::none &&
           collector::is_flow_export({p.payload, p.payload_length});
}

struct Totals {
    std::uint64_t files = 0;
    std::uint64_t packets = 0;
    std::uint64_t export_datagrams = 0;
    std::uint64_t json_lines = 0;
    std::uint64_t json_errors = 0;
};

class AlertPrinter {
public:
    void print(std::vector<Alert>& alerts) {
        for (const auto& alert : alerts) {
            const std::string line = to_json_line(alert);
            std::fwrite(line.data(), 1, line.size(), stdout);
            ++printed;
        }
        alerts.clear();
    }
    std::uint64_t printed = 0;
};

void progress(const std::string& path, std::size_t index, std::size_t files, std::uint64_t packets, bool final) {
    static const bool terminal = ::isatty(STDERR_FILENO) == 1;
    if (!terminal) return;
    std::fprintf(stderr, "\ranalyze: file %zu/%zu %s: %llu packets%s", index + 1, files, path.c_str(),
                 static_cast<unsigned long long>(packets), final ? "\n" : "");
}

bool read_json_lines(const std::string& path, analyzer::Analyzer& engine, AlertPrinter& printer, Totals& totals) {
    std::ifstream in(path);
    if (!in) return false;
    std::vector<Alert> alerts;
    for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        ++totals.json_lines;
        boost::system::error_code ec;
        auto value = boost::json::parse(line, ec);
        if (ec || !value.is_object()) {
            ++totals.json_errors;
            continue;
        }
        const auto& o = value.as_object();
        auto text = [&](const char* key) -> std::string {
            const auto* v = o.if_contains(key);
            return v && v->is_string() ? std::string(v->as_string()) : std::string();
        };
        auto number = [&](const char* key) -> std::uint64_t {
            const auto* v = o.if_contains(key);
            if (!v) return 0;
            if (v->is_uint64()) return v->as_uint64();
            if (v->is_int64()) return static_cast<std::uint64_t>(std::max<std::int64_t>(0, v->as_int64()));
            if (v->is_double()) return static_cast<std::uint64_t>(std::max(0.0, v->as_double()));
            return 0;
        };
        if (o.contains("qname")) {
            DnsEvent event;
            event.response = text("type") == "response";
            event.qname.assign(text("qname"));
            event.client = IpAddress::parse(text("client")).value_or(IpAddress{});
            event.server = IpAddress::parse(text("server")).value_or(IpAddress{});
            event.qtype = static_cast<std::uint16_t>(number("qtype"));
            event.min_ttl = static_cast<std::uint32_t>(number("ttl"));
            event.time_ns = number("time_ns");
            if (const auto* answers = o.if_contains("answers"); answers && answers->is_array()) {
                for (const auto& a : answers->as_array()) {
                    if (event.address_count >= event.addresses.size() || !a.is_string()) break;
                    if (auto address = IpAddress::parse(std::string(a.as_string())))
                        event.addresses[event.address_count++] = *address;
                }
            }
            if (const auto* cnames = o.if_contains("cnames"); cnames && cnames->is_array()) {
                for (const auto& c : cnames->as_array()) {
                    if (event.cname_count >= event.cnames.size() || !c.is_string()) break;
                    event.cnames[event.cname_count++].assign(std::string_view(c.as_string()));
                }
            }
            engine.on_dns(event, alerts);
        } else {
            FlowRecord r;
            r.src_addr = IpAddress::parse(text("src_addr")).value_or(IpAddress{});
            r.dst_addr = IpAddress::parse(text("dst_addr")).value_or(IpAddress{});
            r.src_port = static_cast<std::uint16_t>(number("src_port"));
            r.dst_port = static_cast<std::uint16_t>(number("dst_port"));
            const std::string proto = text("proto");
            r.proto = proto == "TCP"    ? 6
                      : proto == "UDP"  ? 17
                      : proto == "ICMP" ? 1
                                        : static_cast<std::uint8_t>(number("proto"));
            r.bytes = number("bytes");
            r.packets = number("packets");
            r.time_flow_start_ns = number("time_flow_start_ns");
            r.time_flow_end_ns = number("time_flow_end_ns");
            engine.on_flow(r, alerts);
        }
        printer.print(alerts);
    }
    return true;
}

bool read_capture(const std::string& path, const Config& config, analyzer::Analyzer& engine, AlertPrinter& printer,
                  Totals& totals, std::size_t index, std::size_t files) {
    std::optional<collector::PacketCapture> capture;
    try {
        capture.emplace(collector::PacketCapture::open_file(path));
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return false;
    }
    collector::SpanMeter meter(config.meter, IpAddress{});
    collector::FlowDecoder decoder(config.collector);
    std::vector<FlowRecord> flows;
    std::vector<DnsEvent> dns;
    // DNS answers carried in sFlow packet samples feed passive DNS like those the meter sees.
    decoder.on_sampled_packet([&dns](const collector::PacketView& p, const FlowRecord& r) {
        DnsEvent event;
        if (collector::extract_dns(p, r.time_received_ns, event) == collector::DnsExtract::ok) dns.push_back(event);
    });
    std::vector<Alert> alerts;
    collector::RawPacket raw;
    while (capture->next(raw) == collector::PacketCapture::Read::packet) {
        ++totals.packets;
        collector::PacketView view;
        if (collector::parse_frame(capture->link_type(), raw.data, raw.captured, view) == collector::ParseResult::ok &&
            looks_like_flow_export(view)) {
            ++totals.export_datagrams;
            collector::ExportPacket packet{{view.payload, view.payload_length}, view.src, view.src_port, raw.time_ns};
            decoder.decode(packet, flows);
        } else {
            meter.process(capture->link_type(), raw, flows, dns);
        }
        // DNS first: the answer that names an address must be known before the flow to it is scored.
        for (const auto& event : dns) engine.on_dns(event, alerts);
        for (const auto& flow : flows) engine.on_flow(flow, alerts);
        dns.clear();
        flows.clear();
        printer.print(alerts);
        if ((totals.packets & 0xfffff) == 0) progress(path, index, files, totals.packets, false);
    }
    meter.flush(flows);
    decoder.finish();
    for (const auto& flow : flows) engine.on_flow(flow, alerts);
    printer.print(alerts);
    progress(path, index, files, totals.packets, true);
    return true;
}

bool is_json_lines(const std::string& path) {
    std::ifstream in(path);
    char c = 0;
    while (in.get(c)) {
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return c == '{';
    }
    return false;
}

}  // namespace

int run_analyze(const Config& config, const AnalyzeOptions& options) {
    analyzer::PublicSuffixList suffixes = analyzer::PublicSuffixList::fallback();
    try {
        suffixes = analyzer::PublicSuffixList::load(config.analyzer.public_suffix_list);
    } catch (const std::exception& e) {
        spdlog::warn("{}; registered domains fall back to the last two labels", e.what());
    }
    auto iocs = analyzer::IocList::sunburst();
    for (const auto& file : config.analyzer.ioc_files) {
        try {
            iocs.load_file(file);
        } catch (const std::exception& e) {
            spdlog::error("{}", e.what());
            return 2;
        }
    }
    analyzer::Analyzer engine(config.analyzer, config.pipeline.internal_networks, std::move(suffixes), std::move(iocs));
    AlertPrinter printer;
    Totals totals;
    int rc = 0;
    for (std::size_t i = 0; i < options.inputs.size(); ++i) {
        const auto& path = options.inputs[i];
        ++totals.files;
        const bool ok = is_json_lines(path)
                            ? read_json_lines(path, engine, printer, totals)
                            : read_capture(path, config, engine, printer, totals, i, options.inputs.size());
        if (!ok) {
            spdlog::error("cannot read input '{}'", path);
            rc = 1;
        }
    }
    std::vector<Alert> alerts;
    engine.finish(alerts);
    printer.print(alerts);
    std::fflush(stdout);
    const auto s = engine.stats();
    print_summary({{"files", totals.files},
                   {"packets", totals.packets},
                   {"export_datagrams", totals.export_datagrams},
                   {"json_lines", totals.json_lines},
                   {"json_errors", totals.json_errors},
                   {"flows", s.flows},
                   {"dns_events", s.dns_events},
                   {"alerts", printer.printed},
                   {"series", s.pairs},
                   {"series_evictions", s.pair_evictions},
                   {"suppressed_popular", s.suppressed_popular},
                   {"resolvers_learned", s.resolvers_learned}});
    return rc;
}

}  // namespace flowguard::app
