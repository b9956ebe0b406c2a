// flowguard: network flow collector and analyzer. One binary, one subcommand per job.
#include "commands.hpp"

#include <flowguard/core/config.hpp>

#include <CLI/CLI.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace {

// %j: the log message as a JSON string body (quotes, backslashes and control characters escaped).
class JsonMessageFlag : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        static constexpr char hex[] = "0123456789abcdef";
        for (const char c : std::string_view(msg.payload.data(), msg.payload.size())) {
            const auto u = static_cast<unsigned char>(c);
            if (c == '"' || c == '\\') {
                dest.push_back('\\');
                dest.push_back(c);
            } else if (u < 0x20) {
                const char esc[] = {'\\', 'u', '0', '0', hex[u >> 4], hex[u & 15]};
                dest.append(esc, esc + sizeof esc);
            } else {
                dest.push_back(c);
            }
        }
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessageFlag>(); }
};

// Logs go to stderr (stdout carries records or alerts): readable text on a terminal, JSON lines otherwise
// (journald, containers, log shippers), or as log.format says.
void setup_logging(const std::string& level, const std::string& format) {
    auto logger = spdlog::stderr_color_mt("flowguard");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(level));
    const bool json = format == "json" || (format == "auto" && !::isatty(STDERR_FILENO));
    if (json) {
        auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
        formatter->add_flag<JsonMessageFlag>('j').set_pattern(
            R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"%n","message":"%j"})");
        spdlog::set_formatter(std::move(formatter));
    }
}

}  // namespace

int main(int argc, char** argv) {
    using namespace flowguard;
    CLI::App cli{"flowguard: flow collector and SUNBURST-style C2 detector"};
    cli.require_subcommand(1);
    cli.set_version_flag("--version", std::string("flowguard ") + FLOWGUARD_VERSION);
    std::string config_path;
    std::string log_level;
    cli.add_option("-c,--config", config_path, "YAML configuration file (defaults apply without one)");
    cli.add_option("--log-level", log_level, "trace, debug, info, warn, error or off (overrides log.level)")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

    app::DecodeOptions decode;
    auto* decode_cmd =
        cli.add_subcommand("decode", "Decode NetFlow v5/v9, IPFIX and sFlow v5 datagrams from pcap/pcapng captures");
    decode_cmd->add_option("--format", decode.format, "json (goflow2 fields) or csv")
        ->check(CLI::IsMember({"json", "csv"}));
    std::uint16_t port = 0;
    decode_cmd->add_option("--port", port, "only UDP datagrams sent to this port (default: any)")
        ->check(CLI::Range(1, 65535));
    decode_cmd->add_option("captures", decode.captures, "capture files, decoded in order as one stream")
        ->required()
        ->check(CLI::ExistingFile);

    app::CollectOptions collect;
    auto* collect_cmd = cli.add_subcommand("collect", "Receive NetFlow/IPFIX over UDP and write flow records");
    collect_cmd->add_option("--listen", collect.listen, "udp://ADDR:PORT, repeatable (default :2055, :4739 and :6343)");
    collect_cmd->add_option("--output", collect.output, "file to append JSON lines to, or - for stdout");
    collect_cmd->add_option("--format", collect.format, "json, csv or none (decode and count only)")
        ->check(CLI::IsMember({"json", "csv", "none"}));
    collect_cmd->add_option("--state-file", collect.state_file,
                            "save templates here on stop, load them on start (collector.state_file)");
    collect_cmd->add_option("--alerts", collect.alerts,
                            "run the detectors on every shard and append alerts here as JSON lines (- = stdout)");
    collect_cmd->add_option(
        "-i,--interface", collect.interface,
        "also meter this span-port interface into the pipeline (meter.interface; needs CAP_NET_RAW)");
    collect_cmd->add_option("--bpf", collect.bpf_filter, "libpcap filter for --interface (meter.bpf_filter)");

    app::RunOptions run;
    auto* run_cmd = cli.add_subcommand("run",
                                       "The daemon: collect NetFlow/IPFIX/sFlow, detect, serve Prometheus metrics "
                                       "(embedded default without --config)");
    run_cmd->add_option("--listen", run.listen, "udp://ADDR:PORT, repeatable (replaces collector.listen)");
    run_cmd->add_option("--metrics-listen", run.metrics_listen, "ADDR:PORT of /metrics (metrics.listen; \"\" = off)");
    run_cmd->add_option("--alerts", run.alerts, "append alerts here as JSON lines, - = stdout (alerts.path)");
    run_cmd->add_option(
        "-i,--interface", run.interface,
        "also meter this span-port interface: flows and passive DNS (meter.interface; needs CAP_NET_RAW)");
    run_cmd->add_option("--bpf", run.bpf_filter, "libpcap filter for --interface (meter.bpf_filter)");

    auto* metrics_doc_cmd = cli.add_subcommand("metrics-doc", "Print docs/METRICS.md from the metric catalogue");
    bool metric_names = false;
    metrics_doc_cmd->add_flag("--names", metric_names, "only the metric names, one per line");

    app::MeterOptions meter;
    auto* meter_cmd = cli.add_subcommand("meter", "Meter flows from packets: pcap/pcapng files or a live interface");
    meter_cmd->add_option("captures", meter.captures, "capture files, read in order as one capture")
        ->check(CLI::ExistingFile);
    meter_cmd->add_option("-i,--interface", meter.interface, "capture live on this interface (needs CAP_NET_RAW)");
    meter_cmd->add_option("--bpf", meter.bpf_filter, "libpcap filter expression (meter.bpf_filter)");
    meter_cmd
        ->add_option("--capture-threads", meter.capture_threads, "live: threads sharing the interface (PACKET_FANOUT)")
        ->check(CLI::Range(1, 64));
    meter_cmd->add_option("--active-timeout", meter.active_timeout, "report long flows this often, e.g. 300s");
    meter_cmd->add_option("--idle-timeout", meter.idle_timeout, "end flows idle this long, e.g. 15s");
    meter_cmd->add_option("--format", meter.format, "json (goflow2 fields, type METER), csv or none")
        ->check(CLI::IsMember({"json", "csv", "none"}));
    meter_cmd->add_option("--dns-log", meter.dns_log, "append passive DNS queries and responses here as JSON lines");
    meter_cmd->add_flag("--no-dns", meter.no_dns, "do not parse DNS (meter.dns: false)");
    meter_cmd->add_option("--export", meter.export_to,
                          "also send the records as IPFIX to this collector, udp://ADDR:PORT (meter.export)");

    app::AnalyzeOptions analyze;
    auto* analyze_cmd = cli.add_subcommand(
        "analyze", "Run every detector over captures and flow/DNS JSON-lines files; alerts as JSON lines on stdout");
    analyze_cmd->add_option("inputs", analyze.inputs, "pcap/pcapng (traffic or flow exports) and JSON-lines files")
        ->required()
        ->check(CLI::ExistingFile);

    app::SunburstOptions sunburst;
    auto* sunburst_cmd =
        cli.add_subcommand("sunburst", "Decode SUNBURST avsvmcloud.com DNS names (arguments or stdin) into JSON lines");
    sunburst_cmd->add_option("names", sunburst.names, "DNS names; without any, one per line is read from stdin");

    auto* check_cmd = cli.add_subcommand("check-config", "Validate a configuration and print the effective one");
    std::string check_path;
    check_cmd->add_option("file", check_path, "YAML configuration file")->required();

    CLI11_PARSE(cli, argc, argv);
    if (sunburst_cmd->parsed()) return app::run_sunburst(sunburst);  // needs no configuration
    if (metrics_doc_cmd->parsed()) return app::print_metrics_doc(metric_names);
    if (check_cmd->parsed()) config_path = check_path;

    Config config;
    try {
        if (!config_path.empty()) config = load_config_file(config_path);
    } catch (const ConfigError& e) {
        std::fprintf(stderr, "flowguard: config error: %s\n", e.what());
        return 2;
    }
    setup_logging(log_level.empty() ? config.log.level : log_level, config.log.format);

    if (check_cmd->parsed()) {
        std::cout << to_yaml(config);
        return 0;
    }
    if (decode_cmd->parsed()) {
        if (port != 0) decode.port = port;
        return app::run_decode(config, decode);
    }
    if (analyze_cmd->parsed()) return app::run_analyze(config, analyze);
    if (meter_cmd->parsed()) {
        try {
            return app::run_meter(config, meter);
        } catch (const ConfigError& e) {
            std::fprintf(stderr, "flowguard: %s\n", e.what());
            return 2;
        }
    }
    if (run_cmd->parsed()) {
        run.config_path = config_path;
        return app::run_daemon(config, run);
    }
    collect.config_path = config_path;
    return app::run_collect(config, collect);
}
