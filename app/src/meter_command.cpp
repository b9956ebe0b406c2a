// flowguard meter: packets (pcap/pcapng files, or a live interface) -> one-way flow records, plus passive DNS.
#include "commands.hpp"
#include "summary.hpp"

#include <flowguard/collector/span_meter.hpp>
#include <flowguard/core/clock.hpp>
#include <flowguard/exporters/dns_format.hpp>
#include <flowguard/exporters/flow_format.hpp>
#include <flowguard/exporters/ipfix_export.hpp>

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>

namespace flowguard::app {

exporters::FlowFormat parse_flow_format(const std::string& text);

namespace {

std::atomic<bool> g_stop{false};

void request_stop(int) {
    g_stop.store(true);
}

// Flow and DNS lines from every capture thread, written whole batches at a time, and the optional IPFIX
// re-export (one sequence space for every thread, hence under the same lock).
class MeterOutput {
public:
    MeterOutput(std::FILE* flows, exporters::FlowFormat format, std::FILE* dns,
                std::unique_ptr<exporters::IpfixUdpExporter> ipfix)
        : flow_writer_(flows, format),
          dns_writer_(dns ? std::make_unique<exporters::DnsLineWriter>(dns) : nullptr),
          ipfix_(std::move(ipfix)) {}

    // `export_ns`: the IPFIX export time (capture time for files, the wall clock live).
    void write(std::vector<FlowRecord>& flows, std::vector<DnsEvent>& dns, std::uint64_t export_ns) {
        if (flows.empty() && dns.empty()) return;
        std::lock_guard lock(mutex_);
        flow_writer_.write(flows);
        if (ipfix_) {
            for (const auto& r : flows) ipfix_->add(r, export_ns);
        }
        if (dns_writer_) dns_writer_->write(dns);
        flows.clear();
        dns.clear();
    }
    bool flush(std::uint64_t export_ns) {
        std::lock_guard lock(mutex_);
        bool ok = flow_writer_.flush();
        if (dns_writer_) ok = dns_writer_->flush() && ok;
        if (ipfix_) ipfix_->flush(export_ns);
        return ok;
    }
    std::uint64_t flow_lines() const { return flow_writer_.lines_written(); }
    std::uint64_t dns_lines() const { return dns_writer_ ? dns_writer_->lines_written() : 0; }
    void add_export_summary(boost::json::object& summary) const {
        if (!ipfix_) return;
        summary["ipfix_messages"] = ipfix_->stats().messages;
        summary["ipfix_records"] = ipfix_->stats().records;
        summary["ipfix_send_errors"] = ipfix_->send_errors();
    }

private:
    std::mutex mutex_;
    exporters::FlowLineWriter flow_writer_;
    std::unique_ptr<exporters::DnsLineWriter> dns_writer_;
    std::unique_ptr<exporters::IpfixUdpExporter> ipfix_;
};

boost::json::object meter_summary(const collector::SpanMeterStats& s, const collector::CaptureDrops& drops,
                                  const MeterOutput& output) {
    auto summary = span_meter_summary(s, drops);
    summary["records_written"] = output.flow_lines();
    summary["dns_written"] = output.dns_lines();
    output.add_export_summary(summary);
    return summary;
}

int meter_files(const MeterConfig& config, const MeterOptions& options, MeterOutput& output) {
    collector::SpanMeter meter(config, IpAddress{});
    std::vector<FlowRecord> flows;
    std::vector<DnsEvent> dns;
    std::uint64_t last_packet_ns = 0;  // files: capture time is the clock, for IPFIX export times too
    int rc = 0;
    // Files are read in the order given as one capture: a flow that spans two files stays one flow.
    for (const auto& path : options.captures) {
        std::optional<collector::PacketCapture> capture;
        try {
            capture.emplace(collector::PacketCapture::open_file(path, config.bpf_filter));
        } catch (const std::exception& e) {
            spdlog::error("{}", e.what());
            rc = 1;
            continue;
        }
        if (!collector::link_type_supported(capture->link_type())) {
            spdlog::error("{}: link type {} is not supported", path, capture->link_type());
            rc = 1;
            continue;
        }
        collector::RawPacket packet;
        while (!g_stop.load(std::memory_order_relaxed) &&
               capture->next(packet) == collector::PacketCapture::Read::packet) {
            meter.process(capture->link_type(), packet, flows, dns);
            last_packet_ns = std::max(last_packet_ns, packet.time_ns);
            if (flows.size() >= 256 || dns.size() >= 64) output.write(flows, dns, last_packet_ns);
        }
    }
    meter.flush(flows);
    output.write(flows, dns, last_packet_ns);
    if (!output.flush(last_packet_ns)) {
        spdlog::error("writing records failed");
        rc = 1;
    }
    print_summary(meter_summary(meter.stats(), {}, output));
    return rc;
}

int meter_live(const MeterConfig& config, MeterOutput& output) {
    const std::size_t threads = config.capture_threads;
    std::vector<collector::PacketCapture> captures;
    try {
        for (std::size_t i = 0; i < threads; ++i) {
            collector::LiveCaptureOptions live{config.interface,
                                               config.bpf_filter,
                                               config.snaplen,
                                               config.promiscuous,
                                               config.buffer_size,
                                               threads > 1 ? static_cast<int>(::getpid() & 0xffff) : -1,
                                               100};
            captures.push_back(collector::PacketCapture::open_live(live));
        }
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
    spdlog::info("metering on {} with {} capture thread(s)", config.interface, threads);
    std::vector<collector::SpanMeterStats> stats(threads);
    std::vector<std::thread> workers;
    for (std::size_t i = 0; i < threads; ++i) {
        workers.emplace_back([&, i] {
            collector::SpanMeter meter(config, IpAddress{});
            auto& capture = captures[i];
            std::vector<FlowRecord> flows;
            std::vector<DnsEvent> dns;
            collector::RawPacket packet;
            std::uint64_t next_expiry = 0;
            while (!g_stop.load(std::memory_order_relaxed)) {
                const auto read = capture.next(packet);
                if (read == collector::PacketCapture::Read::end) break;
                if (read == collector::PacketCapture::Read::packet)
                    meter.process(capture.link_type(), packet, flows, dns);
                // Quiet links still need their flows to time out: sweep on the wall clock too.
                const auto now = wall_clock_ns();
                if (now >= next_expiry) {
                    meter.expire(now, flows);
                    next_expiry = now + 1'000'000'000ull;
                }
                if (flows.size() >= 256 || dns.size() >= 64 || read == collector::PacketCapture::Read::timeout) {
                    output.write(flows, dns, now);
                }
            }
            meter.flush(flows);
            output.write(flows, dns, wall_clock_ns());
            stats[i] = meter.stats();
        });
    }
    for (auto& worker : workers) worker.join();
    collector::SpanMeterStats total;
    collector::CaptureDrops drops;
    for (std::size_t i = 0; i < threads; ++i) {
        total += stats[i];
        drops += captures[i].drops();
    }
    const bool ok = output.flush(wall_clock_ns());
    print_summary(meter_summary(total, drops, output));
    return ok ? 0 : 1;
}

}  // namespace

int run_meter(Config config, const MeterOptions& options) {
    MeterConfig& meter = config.meter;
    if (options.interface) meter.interface = *options.interface;
    if (options.bpf_filter) meter.bpf_filter = *options.bpf_filter;
    if (options.capture_threads) meter.capture_threads = *options.capture_threads;
    if (options.active_timeout) meter.active_timeout_ns = parse_duration_ns(*options.active_timeout);
    if (options.idle_timeout) meter.idle_timeout_ns = parse_duration_ns(*options.idle_timeout);
    if (options.no_dns) meter.dns = false;
    if (meter.interface.empty() == options.captures.empty()) {
        spdlog::error("give capture files or -i INTERFACE (one of the two)");
        return 2;
    }
    std::FILE* flows_out = stdout;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> dns_file(nullptr, &std::fclose);
    if (options.dns_log) {
        dns_file.reset(std::fopen(options.dns_log->c_str(), "a"));
        if (!dns_file) {
            spdlog::error("cannot open DNS log '{}'", *options.dns_log);
            return 1;
        }
    }
    if (options.export_to) meter.export_to = *options.export_to;
    std::unique_ptr<exporters::IpfixUdpExporter> ipfix;
    if (!meter.export_to.empty()) {
        try {
            ipfix = std::make_unique<exporters::IpfixUdpExporter>(
                meter.export_to, exporters::IpfixEncoderOptions{.observation_domain = meter.export_domain});
        } catch (const std::exception& e) {
            spdlog::error("{}", e.what());
            return 2;
        }
        spdlog::info("exporting records as IPFIX to {} (observation domain {})", meter.export_to, meter.export_domain);
    }
    MeterOutput output(flows_out, parse_flow_format(options.format), dns_file.get(), std::move(ipfix));
    struct sigaction action {};
    action.sa_handler = request_stop;
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    return meter.interface.empty() ? meter_files(meter, options, output) : meter_live(meter, output);
}

}  // namespace flowguard::app
