// flowguard meter: packets (pcap/pcapng files, or a live interface) -> one-way flow records, plus passive DNS
// and an optional IPFIX re-export. Files run through the single-threaded runner; a live interface through the
// live pipeline (capture threads -> shards).
#include "commands.hpp"
#include "privileges.hpp"
#include "wiring.hpp"

#include <flowguard/collector/capture_file_source.hpp>
#include <flowguard/collector/capture_receiver.hpp>
#include <flowguard/collector/report.hpp>
#include <flowguard/exporters/ipfix_export.hpp>
#include <flowguard/pipeline/live_pipeline.hpp>
#include <flowguard/pipeline/runner.hpp>

#include <boost/asio.hpp>
#include <spdlog/spdlog.h>

#include <csignal>

namespace flowguard::app {
namespace {

std::atomic<bool> g_stop{false};

void request_stop(int) {
    g_stop.store(true);
}

// What the meter writes: flow lines on stdout, DNS lines in --dns-log, IPFIX to --export.
struct MeterOutputs {
    FlowOutput flows;
    std::unique_ptr<exporters::LineOutput> dns;
    std::unique_ptr<exporters::IpfixUdpExporter> ipfix;

    std::vector<std::unique_ptr<Stage>> stages() const {
        std::vector<std::unique_ptr<Stage>> stages;
        if (auto s = flows.stage()) stages.push_back(std::move(s));
        if (dns) stages.push_back(std::make_unique<exporters::DnsLogStage>(*dns));
        if (ipfix) stages.push_back(std::make_unique<exporters::IpfixExportStage>(*ipfix));
        return stages;
    }
    int finish(boost::json::object& summary) const {
        summary["records_written"] = flows.written();
        summary["dns_written"] = dns ? dns->lines_written() : 0;
        if (ipfix) ipfix->summarize(summary);
        if (!flows.failed() && !(dns && dns->failed())) return 0;
        summary["records_lost"] = flows.lost();
        summary["dns_lost"] = dns ? dns->lines_lost() : 0;
        spdlog::error("writing failed: {} records and {} DNS events lost (the reasons are logged above)", flows.lost(),
                      dns ? dns->lines_lost() : 0);
        return 1;
    }
};

int meter_files(const Config& config, const MeterOptions& options, const MeterOutputs& outputs) {
    pipeline::Runner runner(outputs.stages(), {});
    collector::CaptureFileCounters counters;
    collector::CaptureFileSource source(options.captures, config.collector, config.meter,
                                        {collector::CaptureContent::traffic, {}, {}}, counters);
    runner.run(source, g_stop);
    runner.finish();
    auto summary = collector::span_meter_summary(source.meter_stats(), {});
    summary["damaged_files"] = counters.damaged_files;
    const int rc = outputs.finish(summary);
    print_summary(summary);
    return source.failed() ? 1 : rc;
}

int meter_live(const Config& config, const MeterOutputs& outputs) {
    // Signals are caught from here on: a SIGINT while the captures open must still stop cleanly.
    boost::asio::io_context io;
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
    std::vector<std::unique_ptr<Source>> sources;
    std::vector<const collector::CaptureReceiver*> captures;
    try {
        for (auto& capture : collector::open_live_captures(config.meter)) {
            sources.push_back(std::make_unique<collector::CaptureReceiver>(config.meter, std::move(capture)));
            captures.push_back(static_cast<const collector::CaptureReceiver*>(sources.back().get()));
        }
        // Captures open, no thread started yet: what `run` drops, dropped here too (privileges.hpp).
        drop_privileges(config.privileges, true);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
    spdlog::info("metering on {} with {} capture thread(s)", config.meter.interface, captures.size());
    pipeline::LivePipeline live({pipeline::or_cores(config.pipeline.shards), config.pipeline.batches_per_channel,
                                 config.pipeline.internal_networks},
                                std::move(sources), [&](std::size_t) { return outputs.stages(); }, {});
    live.start();
    io.run();
    live.stop_and_drain();
    auto summary = collector::live_meter_summary(captures);
    const int rc = outputs.finish(summary);
    print_summary(summary);
    return rc;
}

}  // namespace

int run_meter(Config config, const MeterOptions& options) {
    const MeterConfig& meter = config.meter;
    if (meter.interface.empty() == options.captures.empty()) {
        spdlog::error("give capture files or -i INTERFACE (one of the two)");
        return 2;
    }
    MeterOutputs outputs;
    try {
        outputs.flows = FlowOutput::open(options.format, "-");
        if (options.dns_log)
            outputs.dns =
                std::make_unique<exporters::LineOutput>("dns", exporters::open_line_transport(*options.dns_log));
    } catch (const std::exception& e) {
        spdlog::error("cannot open DNS log: {}", e.what());
        return 1;
    }
    if (!meter.export_to.empty()) {
        try {
            outputs.ipfix = std::make_unique<exporters::IpfixUdpExporter>(
                meter.export_to, exporters::IpfixEncoderOptions{.observation_domain = meter.export_domain});
        } catch (const std::exception& e) {
            spdlog::error("{}", e.what());
            return 2;
        }
        spdlog::info("exporting records as IPFIX to {} (observation domain {})", meter.export_to, meter.export_domain);
    }
    if (!meter.interface.empty()) return meter_live(config, outputs);
    struct sigaction action {};
    action.sa_handler = request_stop;
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    return meter_files(config, options, outputs);
}

}  // namespace flowguard::app
