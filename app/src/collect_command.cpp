// `flowguard collect` and `flowguard run`: the live pipeline. Receive threads (one SO_REUSEPORT socket per
// listener each) and span-port capture threads feed the shards, which write flow lines, run the detectors and
// count traffic for the metrics. The main thread runs Boost.Asio for signals: SIGHUP reloads the detectors'
// lists and reopens the output files, SIGINT/SIGTERM drain sockets and rings, save the template state and print the
// summary.
#include "commands.hpp"
#include "wiring.hpp"

#include <flowguard/collector/capture_receiver.hpp>
#include <flowguard/collector/report.hpp>
#include <flowguard/collector/template_state.hpp>
#include <flowguard/core/metric_labels.hpp>
#include <flowguard/core/metric_samples.hpp>
#include <flowguard/exporters/archive.hpp>
#include <flowguard/exporters/clickhouse.hpp>
#include <flowguard/exporters/traffic_stats.hpp>
#include <flowguard/pipeline/live_pipeline.hpp>

#include <boost/asio.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <ctime>
#include <functional>

#ifndef FLOWGUARD_VERSION
#define FLOWGUARD_VERSION "dev"
#endif

namespace flowguard::app {
namespace {

constexpr auto kPortGuardEvery = std::chrono::seconds(5);

// The pipeline's parts, kept by type for the metrics and the summary.
struct LiveParts {
    std::vector<std::unique_ptr<Source>> sources;
    std::vector<const collector::UdpReceiver*> receivers;
    std::vector<const collector::CaptureReceiver*> captures;
    std::vector<const analyzer::Analyzer*> analyzers;     // one per shard, when detecting
    std::vector<const exporters::TrafficStage*> traffic;  // one per shard, when serving metrics
    const analyzer::LateralStage* lateral = nullptr;      // the global stage, when detecting
    std::atomic<std::size_t> foreign_sockets{0};          // on our listening ports (PortGuard), for the metrics

    std::vector<const collector::FlowDecoder*> decoders() const {
        std::vector<const collector::FlowDecoder*> out;
        for (const auto* r : receivers) out.push_back(&r->decoder());
        return out;
    }
};

// Receive threads for the listeners (bound here: a port in use fails now), with the templates of the last
// run, and capture threads for the span port. Throws std::system_error naming the listener,
// std::runtime_error naming the interface.
void open_sources(const Config& config, LiveParts& parts) {
    const auto threads = config.collector.listen.empty() ? 0 : pipeline::or_cores(config.collector.receive_threads);
    std::vector<collector::FlowDecoder*> decoders;
    for (auto& receiver : collector::open_receivers(config.collector, threads)) {
        decoders.push_back(&receiver->decoder());
        parts.receivers.push_back(receiver.get());
        parts.sources.push_back(std::move(receiver));
    }
    collector::restore_templates(config.collector.state_file, decoders);
    if (config.meter.interface.empty()) return;
    for (auto& capture : collector::open_live_captures(config.meter)) {
        parts.sources.push_back(std::make_unique<collector::CaptureReceiver>(config.meter, std::move(capture)));
        parts.captures.push_back(static_cast<const collector::CaptureReceiver*>(parts.sources.back().get()));
    }
}

// Each scrape: what every module's threads last published, written through their declarations.
exporters::MetricsProvider metrics_provider(const Config& config, const LiveParts& parts,
                                            const pipeline::LivePipeline& live, const exporters::ApplicationMap& apps,
                                            const FlowOutput& flows, const AlertOutputs& alerts,
                                            const exporters::Archive* archive,
                                            const exporters::ClickHouseSink* clickhouse) {
    auto labels = std::make_shared<ExporterLabels>(config.metrics.max_exporters, config.metrics.max_interfaces,
                                                   config.meter.interface);
    const double started = static_cast<double>(std::time(nullptr));
    return [&config, &parts, &live, &apps, &flows, &alerts, archive, clickhouse, labels, started](MetricSink& sink) {
        sink.add("flowguard_build_info", {FLOWGUARD_VERSION}, 1);
        sink.add("flowguard_start_time_seconds", {}, started);
        if (!parts.receivers.empty())
            sink.add("flowguard_listener_foreign_sockets", {},
                     static_cast<double>(parts.foreign_sockets.load(std::memory_order_relaxed)));
        collector::write_collector_metrics(sink, parts.receivers, parts.captures, config.meter.interface, *labels);
        live.write_metrics(sink);
        flows.write_metrics(sink);
        alerts.write_metrics(sink);
        if (archive != nullptr) archive->write_metrics(sink);
        if (clickhouse != nullptr) clickhouse->write_metrics(sink);
        SummedMetrics shards;  // every shard's detectors, added up series by series
        for (const auto* a : parts.analyzers) a->write_published_metrics(shards);
        shards.write_to(sink);
        if (parts.lateral != nullptr) parts.lateral->write_published_metrics(sink);
        exporters::write_traffic_metrics(sink, parts.traffic, apps, *labels, config.metrics.top_k);
        if (const auto* hooks = alerts.webhooks()) hooks->write_metrics(sink);
    };
}

}  // namespace

int run_collect(Config config, const CollectOptions& options) {
    // A reader of stdout that goes away (`run | head`, a crashed log shipper) must not kill the daemon by
    // SIGPIPE before it saves its state: the write fails with EPIPE instead, logged and counted as lost.
    std::signal(SIGPIPE, SIG_IGN);
    // Signals are caught from here on: a SIGTERM during start-up must still drain and print the summary.
    boost::asio::io_context io;
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int signo) {
        if (!ec) spdlog::info("signal {}: draining and stopping", signo);
        io.stop();
    });
    if (options.detect && config.output.format != "none" && config.output.path == "-" && config.alerts.path == "-") {
        // One stream cannot carry both: a reader of either would trip over the other's lines. (check-config's
        // output always has an output section: a copy of it must still run.)
        spdlog::warn("output.path and alerts.path are both stdout: flow records are not written (set output.path)");
        config.output.format = "none";
    }
    // Sockets and captures first, then privileges dropped, then everything else: no thread exists yet, and
    // capabilities belong to each thread (privileges.hpp).
    LiveParts parts;
    try {
        open_sources(config, parts);
    } catch (const std::system_error& e) {
        spdlog::error("cannot listen: {}", e.what());  // a port in use, an address not on this host
        return 1;
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());  // the span-port capture cannot be opened
        return 1;
    }
    if (parts.sources.empty()) {
        spdlog::error("nothing to collect from: no collector.listen endpoint and no meter.interface");
        return 2;
    }
    try {
        drop_privileges(config.privileges, !parts.captures.empty());
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
    // The archive directory is made with the privileges the daemon keeps (after they were dropped).
    std::unique_ptr<exporters::Archive> archive;
    if (!config.archive.path.empty()) {
        try {
            archive = std::make_unique<exporters::Archive>(config.archive);
            spdlog::info("archiving flows in {}: nfcapd files every {} s (nfdump -R {}){}{}", config.archive.path,
                         config.archive.interval_ns / 1'000'000'000, config.archive.path,
                         config.archive.events
                             ? "; DNS events and alerts in " + exporters::archive_events_path(config.archive)
                             : "",
                         config.archive.max_age_ns || config.archive.max_bytes ? "" : "; kept until removed");
        } catch (const std::exception& e) {
            if (!options.default_archive) {
                spdlog::error("archive: {}", e.what());
                return 1;
            }
            spdlog::warn("archive off: {} (set archive.path or --archive to a writable directory)", e.what());
        }
    }
    FlowOutput flows;
    AlertOutputs alerts;
    DetectorInputs detectors;
    std::vector<AlertSink*> archived_alerts;
    if (archive && archive->alert_sink()) archived_alerts.push_back(archive->alert_sink());
    try {
        flows = FlowOutput::open(config.output.format, config.output.path);
        if (options.detect) alerts = AlertOutputs::open(config.alerts.path, config.alerts, true, archived_alerts);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());  // an output that cannot be opened, a bad webhook URL or spool directory
        return 1;
    }
    std::unique_ptr<exporters::ClickHouseSink> clickhouse;
    if (!config.clickhouse.url.empty()) {
        try {
            clickhouse = std::make_unique<exporters::ClickHouseSink>(config.clickhouse);
            spdlog::info("inserting flows into ClickHouse at {} (database {}){}", config.clickhouse.url,
                         config.clickhouse.database,
                         config.clickhouse.spool_dir.empty() ? "" : ", spooling in " + config.clickhouse.spool_dir);
        } catch (const std::exception& e) {
            spdlog::error("clickhouse: {}", e.what());  // a spool directory that cannot be used
            return 1;
        }
    }
    try {
        if (options.detect) detectors = DetectorInputs::load(config.analyzer);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 2;
    }
    std::vector<std::unique_ptr<GlobalStage>> global_stages;
    try {
        if (options.detect) {
            if (auto lateral = lateral_stage(config, "", true)) {
                parts.lateral = lateral.get();
                global_stages.push_back(std::move(lateral));
            }
        }
    } catch (const std::exception& e) {
        spdlog::error("lateral: the saved graph cannot be restored: {}", e.what());
        return 1;
    }
    // SIGHUP re-reads the configuration file's analyzer section (indicator files, beacon allow-lists) and the
    // indicator files; an error anywhere keeps the previous lists. It also reopens the flow and alert files by
    // name (log rotation). Other settings need a restart.
    boost::asio::signal_set hangups(io, SIGHUP);
    std::function<void(const boost::system::error_code&, int)> on_hangup = [&](const boost::system::error_code& ec,
                                                                               int) {
        if (ec) return;
        if (detectors.lists) detectors.reload(options.config_path, config.analyzer);
        flows.reopen();  // logrotate's postrotate: the moved files are closed, new ones opened by name
        alerts.reopen();
        hangups.async_wait(on_hangup);
    };
    hangups.async_wait(on_hangup);

    // Every few seconds: has a foreign socket joined a listening port's SO_REUSEPORT group? (port_guard.hpp)
    auto port_guard = collector::guard_ports(config.collector, parts.receivers);
    boost::asio::steady_timer guard_timer(io);
    std::function<void(const boost::system::error_code&)> check_ports = [&](const boost::system::error_code& ec) {
        if (ec || parts.receivers.empty()) return;
        parts.foreign_sockets.store(port_guard.check(collector::read_udp_sockets()), std::memory_order_relaxed);
        guard_timer.expires_after(kPortGuardEvery);
        guard_timer.async_wait(check_ports);
    };
    check_ports({});
    const exporters::ApplicationMap apps(config.metrics.applications);
    const auto receive_threads = parts.receivers.size();
    const auto shards = pipeline::or_cores(config.pipeline.shards);
    pipeline::LivePipeline live(
        {shards, config.pipeline.batches_per_channel, config.pipeline.internal_networks}, std::move(parts.sources),
        [&](std::size_t) {
            std::vector<std::unique_ptr<Stage>> stages;
            if (auto s = flows.stage()) stages.push_back(std::move(s));
            if (archive) stages.push_back(archive->stage());
            if (clickhouse) stages.push_back(clickhouse->stage());
            if (options.detect) {
                stages.push_back(detectors.analyzer(config, shards));
                parts.analyzers.push_back(static_cast<const analyzer::Analyzer*>(stages.back().get()));
            }
            if (options.metrics) {
                stages.push_back(std::make_unique<exporters::TrafficStage>(config.metrics, apps));
                parts.traffic.push_back(static_cast<const exporters::TrafficStage*>(stages.back().get()));
            }
            return stages;
        },
        alerts.sinks(), std::move(global_stages));
    std::unique_ptr<exporters::MetricsEndpoint> endpoint;  // declared after what it reads: destroyed first
    if (options.metrics && !config.metrics.listen.empty()) {
        try {
            endpoint = std::make_unique<exporters::MetricsEndpoint>(
                config.metrics, metric_catalog(),
                metrics_provider(config, parts, live, apps, flows, alerts, archive.get(), clickhouse.get()));
            spdlog::info("metrics on {}://{}/metrics{}", config.metrics.tls_cert_file.empty() ? "http" : "https",
                         config.metrics.listen, config.metrics.username.empty() ? "" : " (basic auth)");
        } catch (const std::exception& e) {
            spdlog::error("{}", e.what());
            return 1;
        }
    }
    for (const auto& l : config.collector.listen)
        spdlog::info("listening on {} ({} receive threads, {} shards)", l.to_string(), receive_threads,
                     live.shard_count());
    if (!parts.captures.empty())
        spdlog::info("metering span port {} ({} capture threads{})", config.meter.interface, parts.captures.size(),
                     config.meter.bpf_filter.empty() ? "" : ", filter '" + config.meter.bpf_filter + "'");

    live.start();
    io.run();  // returns once the signal handler has run (at once if a signal came during start-up)
    live.stop_and_drain();
    if (archive) archive->stop();
    if (clickhouse) clickhouse->stop();
    alerts.stop();
    collector::persist_templates(config.collector.state_file, parts.decoders());

    boost::json::object summary;
    collector::add_decoder_summary(summary, parts.decoders());
    collector::add_receiver_summary(summary, parts.receivers);
    live.summarize(summary);
    summary["records_written"] = flows.written();
    summary["records_lost"] = flows.lost();
    summary["receive_threads"] = receive_threads;
    summary["shards"] = live.shard_count();
    if (!parts.captures.empty()) summary["meter"] = collector::live_meter_summary(parts.captures);
    if (options.detect) {
        summary["alerts"] = alerts.written();
        summary["alerts_lost"] = alerts.lost();
    }
    if (parts.lateral != nullptr) {
        boost::json::object lateral;
        add_to_summary(lateral, parts.lateral->published(), analyzer::kLateralCounters);
        summary["lateral"] = std::move(lateral);
    }
    if (const auto* hooks = alerts.webhooks()) summary["webhooks"] = hooks->summarize();
    const auto archived = archive ? archive->stats() : exporters::ArchiveStats{};
    if (archive) {
        boost::json::object a;
        add_to_summary(a, archived, exporters::kArchiveStats);
        summary["archive"] = std::move(a);
    }
    const auto inserted = clickhouse ? clickhouse->stats() : exporters::ClickHouseStats{};
    if (clickhouse) {
        boost::json::object c;
        add_to_summary(c, inserted, exporters::kClickHouseStats);
        summary["clickhouse"] = std::move(c);
    }
    const std::uint64_t archive_lost = archived.flows_lost + archived.flows_dropped;
    const std::uint64_t events_lost = archived.events_lost + archived.events_dropped;
    const bool lost = flows.lost() + alerts.lost() + archive_lost + events_lost + inserted.flows_dropped > 0;
    if (lost)
        spdlog::error(
            "writing failed: {} flow records lost, {} alerts lost, {} archived flows and {} archived DNS events or "
            "alerts lost or dropped, {} flows not inserted into ClickHouse (the reasons are logged above)",
            flows.lost(), alerts.lost(), archive_lost, events_lost, inserted.flows_dropped);
    print_summary(summary);  // the last line
    return lost ? 1 : 0;
}

}  // namespace flowguard::app
