// `flowguard collect`: the multi-threaded collector. N receive threads (one SO_REUSEPORT socket per
// listener each, recvmmsg, decode in place) hand record batches over lock-free SPSC channels to M shard
// threads, which write records out. The main thread runs Boost.Asio for signals; on SIGINT/SIGTERM the
// receivers drain their sockets, the shards drain their channels, the template state is saved and the
// summary printed.
#include "commands.hpp"
#include "daemon_metrics.hpp"
#include "pipeline.hpp"
#include "shard_worker.hpp"
#include "summary.hpp"
#include "template_state.hpp"

#include <flowguard/collector/udp_receiver.hpp>
#include <flowguard/exporters/flow_format.hpp>

#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

namespace flowguard::app {

exporters::FlowFormat parse_flow_format(const std::string& text);

namespace {

// On SIGTERM, alerts raised while the rings drained get this long to reach their webhooks; the rest stay
// spooled for the next start.
constexpr std::chrono::seconds kWebhookShutdownGrace{5};

int open_output(const Config& config) {
    if (config.output.path == "-" || config.output.format == "none") return STDOUT_FILENO;
    // Append: restarting the collector must not erase what an earlier run wrote.
    return ::open(config.output.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

// The span-port capture threads' totals; their records are in the top-level records_delivered/ring_drops too.
boost::json::object meter_summary(const std::string& interface, const Pipeline& pipeline) {
    const auto t = pipeline.capture_totals();
    auto summary = span_meter_summary(t.meter, t.drops);
    summary["interface"] = interface;
    summary["capture_threads"] = pipeline.captures.size();
    return summary;
}

}  // namespace

int run_collect(Config config, const CollectOptions& options) {
    if (!options.listen.empty()) {
        config.collector.listen.clear();
        for (const auto& text : options.listen) {
            try {
                config.collector.listen.push_back(ListenEndpoint::parse(text));
            } catch (const ConfigError& e) {
                spdlog::error("--listen {}: {}", text, e.what());
                return 2;
            }
        }
    }
    if (options.output) config.output.path = *options.output;
    if (options.format) config.output.format = *options.format;
    if (options.state_file) config.collector.state_file = *options.state_file;
    if (options.interface) config.meter.interface = *options.interface;
    if (options.bpf_filter) config.meter.bpf_filter = *options.bpf_filter;

    const int fd = open_output(config);
    if (fd < 0) {
        spdlog::error("cannot open output '{}': {}", config.output.path, std::strerror(errno));
        return 1;
    }
    // Signals are caught from here on: a SIGTERM during start-up must still drain and print the summary,
    // not kill the process with the default action.
    boost::asio::io_context io;
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int signo) {
        if (!ec) spdlog::info("signal {}: draining and stopping", signo);
        io.stop();
    });

    std::unique_ptr<LiveAnalysis> analysis;
    if (options.alerts) {
        analysis = std::make_unique<LiveAnalysis>();
        try {
            analysis->suffixes = analyzer::PublicSuffixList::load(config.analyzer.public_suffix_list);
        } catch (const std::exception& e) {
            spdlog::warn("{}; registered domains fall back to the last two labels", e.what());
            analysis->suffixes = analyzer::PublicSuffixList::fallback();
        }
        try {
            analysis->lists = std::make_unique<ListUpdates>(load_lists(config.analyzer));
        } catch (const std::exception& e) {
            spdlog::error("{}", e.what());
            return 2;
        }
        analysis->fd = *options.alerts == "-"
                           ? STDOUT_FILENO
                           : ::open(options.alerts->c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (analysis->fd < 0) {
            spdlog::error("cannot open alerts file '{}': {}", *options.alerts, std::strerror(errno));
            return 1;
        }
        analysis->sink = std::make_unique<LineSink>(analysis->fd);
        if (!config.alerts.webhooks.empty()) {
            try {
                analysis->webhooks = std::make_unique<exporters::WebhookDispatcher>(config.alerts);
            } catch (const std::exception& e) {
                spdlog::error("{}", e.what());  // a bad URL or an unusable spool directory
                return 1;
            }
            for (const auto& w : config.alerts.webhooks)
                spdlog::info("webhook {} ({}): alerts of severity {} and above to {}, spooled in {}/{}", w.name, w.kind,
                             w.min_severity, w.url, config.alerts.spool_dir, w.name);
        }
    }
    // SIGHUP re-reads the configuration file's analyzer section (indicator files, beacon allow-lists) and
    // the indicator files; an error anywhere keeps the previous lists. Other settings need a restart.
    boost::asio::signal_set hangups(io, SIGHUP);
    std::function<void(const boost::system::error_code&, int)> on_hangup = [&](const boost::system::error_code& ec,
                                                                               int) {
        if (ec) return;
        if (analysis) {
            try {
                AnalyzerConfig analyzer_config = config.analyzer;
                if (!options.config_path.empty()) analyzer_config = load_config_file(options.config_path).analyzer;
                auto lists = load_lists(analyzer_config);
                spdlog::info("SIGHUP: {} indicators, {} allow-listed ports, {} allow-listed domains loaded",
                             lists->iocs.size(), lists->allow_ports.size(), lists->allow_domains.size());
                analysis->lists->publish(std::move(lists));
            } catch (const std::exception& e) {
                spdlog::error("SIGHUP: lists not reloaded, the previous ones stay: {}", e.what());
            }
        }
        hangups.async_wait(on_hangup);
    };
    hangups.async_wait(on_hangup);

    LineSink sink(fd);
    std::optional<exporters::ApplicationMap> applications;
    if (options.metrics) applications.emplace(config.metrics.applications);
    Pipeline pipeline;
    try {
        pipeline = build_pipeline(config, sink, analysis.get(), applications ? &*applications : nullptr);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());  // e.g. the span-port capture cannot be opened
        return 1;
    }
    if (pipeline.receivers.empty() && pipeline.captures.empty()) {
        spdlog::error("nothing to collect from: no collector.listen endpoint and no meter.interface");
        return 2;
    }
    std::unique_ptr<exporters::MetricsEndpoint> metrics;  // declared after the pipeline it reads: destroyed first
    if (options.metrics && !config.metrics.listen.empty()) {
        try {
            metrics = std::make_unique<exporters::MetricsEndpoint>(
                config.metrics,
                make_metrics_provider(pipeline, config, *applications, analysis ? analysis->webhooks.get() : nullptr));
            spdlog::info("metrics on {}://{}/metrics{}", config.metrics.tls_cert_file.empty() ? "http" : "https",
                         config.metrics.listen, config.metrics.username.empty() ? "" : " (basic auth)");
        } catch (const std::exception& e) {
            spdlog::error("{}", e.what());
            return 1;
        }
    }
    try {
        for (std::size_t i = 0; i < pipeline.receivers.size(); ++i) {
            const auto warnings = pipeline.receivers[i]->open(config.collector.listen);
            if (i == 0)
                for (const auto& w : warnings) spdlog::warn("{}", w);
        }
    } catch (const std::system_error& e) {
        spdlog::error("cannot listen: {}", e.what());
        return 1;
    }
    if (!config.collector.state_file.empty()) {
        try {
            std::vector<collector::FlowDecoder*> decoders;
            for (auto& r : pipeline.receivers) decoders.push_back(&r->decoder());
            const auto loaded = load_template_state(config.collector.state_file, decoders);
            spdlog::info("template state: {} templates loaded from {} ({} rejected)", loaded.templates,
                         config.collector.state_file, loaded.rejected);
        } catch (const std::exception& e) {
            spdlog::warn("template state not loaded: {}", e.what());
        }
    }
    for (const auto& l : config.collector.listen)
        spdlog::info("listening on {} ({} receive threads, {} shards)", l.to_string(), pipeline.receivers.size(),
                     pipeline.shards.size());
    if (!pipeline.captures.empty())
        spdlog::info("metering span port {} ({} capture threads{})", config.meter.interface, pipeline.captures.size(),
                     config.meter.bpf_filter.empty() ? "" : ", filter '" + config.meter.bpf_filter + "'");

    PipelineThreads threads(pipeline);
    io.run();  // returns once the signal handler has run (at once if a signal came during start-up)
    threads.stop_and_drain();
    if (analysis && analysis->webhooks) analysis->webhooks->stop(kWebhookShutdownGrace);

    if (!config.collector.state_file.empty()) {
        try {
            const auto saved = save_template_state(config.collector.state_file, pipeline.decoders());
            spdlog::info("template state: {} templates saved to {}", saved.templates, config.collector.state_file);
        } catch (const std::exception& e) {
            spdlog::error("template state not saved: {}", e.what());
        }
    }
    const PipelineCounters counters = pipeline.counters();
    auto summary = decoder_summary(pipeline.decoders(), counters);
    summary["receive_threads"] = pipeline.receivers.size();
    summary["shards"] = pipeline.shards.size();
    summary["dns_events"] = counters.dns_events_delivered;
    summary["dns_drops"] = counters.dns_drops;
    if (!pipeline.captures.empty()) summary["meter"] = meter_summary(config.meter.interface, pipeline);
    if (analysis) {
        std::uint64_t alerts = 0;
        for (const auto& s : pipeline.shards) alerts += s->alerts();
        summary["alerts"] = alerts;
        if (analysis->webhooks) {
            boost::json::array hooks;
            for (const auto& s : analysis->webhooks->stats()) {
                boost::json::object failures;
                for (const auto& [reason, n] : s.failures) failures[reason] = n;
                hooks.push_back({{"name", s.name},
                                 {"deliveries", s.deliveries},
                                 {"failures", std::move(failures)},
                                 {"spool_depth", s.spool_depth},
                                 {"spool_drops", s.spool_drops}});
            }
            summary["webhooks"] = std::move(hooks);
        }
        if (analysis->fd != STDOUT_FILENO) ::close(analysis->fd);
    }
    print_summary(summary);
    if (fd != STDOUT_FILENO) ::close(fd);
    if (sink.failed()) {
        spdlog::error("writing records failed");
        return 1;
    }
    return 0;
}

}  // namespace flowguard::app
