// `flowguard collect`: the multi-threaded collector. N receive threads (one SO_REUSEPORT socket per
// listener each, recvmmsg, decode in place) hand record batches over lock-free SPSC channels to M shard
// threads, which write records out. The main thread runs Boost.Asio for signals; on SIGINT/SIGTERM the
// receivers drain their sockets, the shards drain their channels, the template state is saved and the
// summary printed.
#include "commands.hpp"
#include "shard_worker.hpp"
#include "summary.hpp"
#include "template_state.hpp"

#include <flowguard/collector/udp_receiver.hpp>
#include <flowguard/exporters/flow_format.hpp>

#include <boost/asio.hpp>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>
#include <memory>
#include <thread>

namespace flowguard::app {

exporters::FlowFormat parse_flow_format(const std::string& text);

namespace {

std::size_t or_cores(std::size_t configured) {
    if (configured != 0) return configured;
    return std::max(1u, std::thread::hardware_concurrency());
}

struct Pipeline {
    std::vector<std::vector<std::unique_ptr<BatchChannel>>> channels;  // [receiver][shard]
    std::vector<std::unique_ptr<collector::UdpReceiver>> receivers;
    std::vector<std::unique_ptr<ShardWorker>> shards;

    std::vector<const collector::FlowDecoder*> decoders() const {
        std::vector<const collector::FlowDecoder*> out;
        for (const auto& r : receivers) out.push_back(&r->decoder());
        return out;
    }
};

// Detectors for live collection: one Analyzer per shard, alerts as JSON lines to their own sink.
struct LiveAnalysis {
    std::optional<analyzer::PublicSuffixList> suffixes;
    std::unique_ptr<IocUpdates> iocs;
    std::unique_ptr<LineSink> sink;
    int fd = -1;
};

std::shared_ptr<const analyzer::IocList> load_iocs(const AnalyzerConfig& config) {
    auto lists = std::make_shared<analyzer::IocList>(analyzer::IocList::sunburst());
    for (const auto& file : config.ioc_files) lists->load_file(file);  // throws naming file:line
    return lists;
}

Pipeline build_pipeline(const Config& config, LineSink& sink, LiveAnalysis* analysis) {
    Pipeline p;
    const auto receivers = or_cores(config.collector.receive_threads);
    const auto shards = or_cores(config.pipeline.shards);
    const auto format = parse_flow_format(config.output.format);
    p.channels.resize(receivers);
    for (std::size_t r = 0; r < receivers; ++r) {
        std::vector<BatchChannel*> outputs;
        for (std::size_t s = 0; s < shards; ++s) {
            p.channels[r].push_back(std::make_unique<BatchChannel>(config.pipeline.batches_per_channel));
            outputs.push_back(p.channels[r].back().get());
        }
        p.receivers.push_back(std::make_unique<collector::UdpReceiver>(
            config.collector, collector::ShardRouter(config.pipeline.internal_networks, shards), outputs));
    }
    for (std::size_t s = 0; s < shards; ++s) {
        std::vector<BatchChannel*> inputs;
        for (std::size_t r = 0; r < receivers; ++r) inputs.push_back(p.channels[r][s].get());
        ShardAnalysis shard_analysis;
        if (analysis) {
            shard_analysis.analyzer = std::make_unique<analyzer::Analyzer>(
                config.analyzer, config.pipeline.internal_networks, *analysis->suffixes, *analysis->iocs->current());
            shard_analysis.alerts = analysis->sink.get();
            shard_analysis.iocs = analysis->iocs.get();
        }
        p.shards.push_back(std::make_unique<ShardWorker>(inputs, format, sink, std::move(shard_analysis)));
    }
    return p;
}

int open_output(const Config& config) {
    if (config.output.path == "-" || config.output.format == "none") return STDOUT_FILENO;
    // Append: restarting the collector must not erase what an earlier run wrote.
    return ::open(config.output.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
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
            analysis->iocs = std::make_unique<IocUpdates>(load_iocs(config.analyzer));
        } catch (const std::exception& e) {
            spdlog::error("{}", e.what());
            return 2;
        }
        analysis->fd = *options.alerts == "-" ? STDOUT_FILENO
                                              : ::open(options.alerts->c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (analysis->fd < 0) {
            spdlog::error("cannot open alerts file '{}': {}", *options.alerts, std::strerror(errno));
            return 1;
        }
        analysis->sink = std::make_unique<LineSink>(analysis->fd);
    }
    // SIGHUP re-reads the indicator lists; a list with an error keeps the previous ones.
    boost::asio::signal_set hangups(io, SIGHUP);
    std::function<void(const boost::system::error_code&, int)> on_hangup = [&](const boost::system::error_code& ec, int) {
        if (ec) return;
        if (analysis) {
            try {
                auto lists = load_iocs(config.analyzer);
                spdlog::info("SIGHUP: {} indicators loaded", lists->size());
                analysis->iocs->publish(std::move(lists));
            } catch (const std::exception& e) {
                spdlog::error("SIGHUP: indicator lists not reloaded: {}", e.what());
            }
        }
        hangups.async_wait(on_hangup);
    };
    hangups.async_wait(on_hangup);

    LineSink sink(fd);
    Pipeline pipeline = build_pipeline(config, sink, analysis.get());
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

    std::atomic<bool> stop_receiving{false};
    std::atomic<bool> receivers_done{false};
    std::vector<std::thread> shard_threads;
    for (auto& s : pipeline.shards) shard_threads.emplace_back([&s, &receivers_done] { s->run(receivers_done); });
    std::vector<std::thread> receive_threads;
    for (auto& r : pipeline.receivers) receive_threads.emplace_back([&r, &stop_receiving] { r->run(stop_receiving); });

    io.run();  // returns once the signal handler has run (at once if a signal came during start-up)

    stop_receiving.store(true, std::memory_order_release);
    for (auto& t : receive_threads) t.join();
    receivers_done.store(true, std::memory_order_release);
    for (auto& t : shard_threads) t.join();

    if (!config.collector.state_file.empty()) {
        try {
            const auto saved = save_template_state(config.collector.state_file, pipeline.decoders());
            spdlog::info("template state: {} templates saved to {}", saved.templates, config.collector.state_file);
        } catch (const std::exception& e) {
            spdlog::error("template state not saved: {}", e.what());
        }
    }
    PipelineCounters counters;
    for (const auto& r : pipeline.receivers) {
        counters.kernel_drops += r->counters().kernel_drops.load(std::memory_order_relaxed);
        counters.ring_drops += r->counters().ring_drops.load(std::memory_order_relaxed);
        counters.truncated_datagrams += r->counters().truncated.load(std::memory_order_relaxed);
        counters.receive_errors += r->counters().receive_errors.load(std::memory_order_relaxed);
    }
    for (const auto& s : pipeline.shards) {
        counters.records_written += s->records_written();
        counters.records_delivered += s->records();
    }
    auto summary = decoder_summary(pipeline.decoders(), counters);
    summary["receive_threads"] = pipeline.receivers.size();
    summary["shards"] = pipeline.shards.size();
    if (analysis) {
        std::uint64_t alerts = 0;
        for (const auto& s : pipeline.shards) alerts += s->alerts();
        summary["alerts"] = alerts;
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
