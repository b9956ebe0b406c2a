// flowguard meter: packets (pcap/pcapng files, or a live interface) -> one-way flow records, plus passive DNS.
#include "commands.hpp"
#include "summary.hpp"

#include <flowguard/collector/span_meter.hpp>
#include <flowguard/exporters/dns_format.hpp>
#include <flowguard/exporters/flow_format.hpp>

#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>
#include <thread>
#include <unistd.h>

namespace flowguard::app {

exporters::FlowFormat parse_flow_format(const std::string& text);

namespace {

std::atomic<bool> g_stop{false};

void request_stop(int) { g_stop.store(true); }

// Flow and DNS lines from every capture thread, written whole batches at a time.
class MeterOutput {
public:
    MeterOutput(std::FILE* flows, exporters::FlowFormat format, std::FILE* dns)
        : flow_writer_(flows, format), dns_writer_(dns ? std::make_unique<exporters::DnsLineWriter>(dns) : nullptr) {}

    void write(std::vector<FlowRecord>& flows, std::vector<DnsEvent>& dns) {
        if (flows.empty() && dns.empty()) return;
        std::lock_guard lock(mutex_);
        flow_writer_.write(flows);
        if (dns_writer_) dns_writer_->write(dns);
        flows.clear();
        dns.clear();
    }
    bool flush() {
        std::lock_guard lock(mutex_);
        bool ok = flow_writer_.flush();
        if (dns_writer_) ok = dns_writer_->flush() && ok;
        return ok;
    }
    std::uint64_t flow_lines() const { return flow_writer_.lines_written(); }
    std::uint64_t dns_lines() const { return dns_writer_ ? dns_writer_->lines_written() : 0; }

private:
    std::mutex mutex_;
    exporters::FlowLineWriter flow_writer_;
    std::unique_ptr<exporters::DnsLineWriter> dns_writer_;
};

boost::json::object meter_summary(const collector::SpanMeterStats& s, const collector::CaptureDrops& drops,
                                  const MeterOutput& output) {
    return {{"frames", s.frames},
            {"packets", s.flows.packets},
            {"bytes", s.flows.bytes},
            {"not_ip", s.not_ip},
            {"truncated", s.truncated},
            {"malformed", s.malformed},
            {"flows_created", s.flows.flows_created},
            {"records", s.flows.flows_expired},
            {"records_written", output.flow_lines()},
            {"evictions", s.flows.evictions},
            {"fragments_unmatched", s.flows.fragments_unmatched},
            {"dns_messages", s.dns_messages},
            {"dns_errors", s.dns_errors},
            {"dns_written", output.dns_lines()},
            {"capture_received", drops.received},
            {"capture_dropped", drops.dropped},
            {"capture_interface_dropped", drops.interface_dropped}};
}

int meter_files(const MeterConfig& config, const MeterOptions& options, MeterOutput& output) {
    collector::SpanMeter meter(config, IpAddress{});
    std::vector<FlowRecord> flows;
    std::vector<DnsEvent> dns;
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
        while (!g_stop.load(std::memory_order_relaxed) && capture->next(packet) == collector::PacketCapture::Read::packet) {
            meter.process(capture->link_type(), packet, flows, dns);
            if (flows.size() >= 256 || dns.size() >= 64) output.write(flows, dns);
        }
    }
    meter.flush(flows);
    output.write(flows, dns);
    if (!output.flush()) {
        spdlog::error("writing records failed");
        rc = 1;
    }
    print_summary(meter_summary(meter.stats(), {}, output));
    return rc;
}

std::uint64_t wall_clock_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

int meter_live(const MeterConfig& config, MeterOutput& output) {
    const std::size_t threads = config.capture_threads;
    std::vector<collector::PacketCapture> captures;
    try {
        for (std::size_t i = 0; i < threads; ++i) {
            collector::LiveCaptureOptions live{config.interface, config.bpf_filter, config.snaplen, config.promiscuous,
                                               config.buffer_size,
                                               threads > 1 ? static_cast<int>(::getpid() & 0xffff) : -1, 100};
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
                if (read == collector::PacketCapture::Read::packet) meter.process(capture.link_type(), packet, flows, dns);
                // Quiet links still need their flows to time out: sweep on the wall clock too.
                const auto now = wall_clock_ns();
                if (now >= next_expiry) {
                    meter.expire(now, flows);
                    next_expiry = now + 1'000'000'000ull;
                }
                if (flows.size() >= 256 || dns.size() >= 64 || read == collector::PacketCapture::Read::timeout) {
                    output.write(flows, dns);
                }
            }
            meter.flush(flows);
            output.write(flows, dns);
            stats[i] = meter.stats();
        });
    }
    for (auto& worker : workers) worker.join();
    collector::SpanMeterStats total;
    collector::CaptureDrops drops;
    for (std::size_t i = 0; i < threads; ++i) {
        total += stats[i];
        const auto d = captures[i].drops();
        drops.received += d.received;
        drops.dropped += d.dropped;
        drops.interface_dropped += d.interface_dropped;
    }
    const bool ok = output.flush();
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
    MeterOutput output(flows_out, parse_flow_format(options.format), dns_file.get());
    struct sigaction action {};
    action.sa_handler = request_stop;
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    return meter.interface.empty() ? meter_files(meter, options, output) : meter_live(meter, output);
}

}  // namespace flowguard::app
