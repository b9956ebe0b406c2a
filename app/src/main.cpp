// flowguard: network flow collector and analyzer. One binary, one subcommand per job.
#include "commands.hpp"

#include <flowguard/core/config.hpp>
#include <flowguard/exporters/flow_format.hpp>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

namespace flowguard::app {

exporters::FlowFormat parse_flow_format(const std::string& text) {
    if (text == "csv") return exporters::FlowFormat::csv;
    if (text == "none") return exporters::FlowFormat::none;
    return exporters::FlowFormat::json;
}

}  // namespace flowguard::app

namespace {

void setup_logging(const std::string& level) {
    // Logs go to stderr: stdout carries records.
    auto logger = spdlog::stderr_color_mt("flowguard");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace

int main(int argc, char** argv) {
    using namespace flowguard;
    CLI::App cli{"flowguard: flow collector and SUNBURST-style C2 / lateral movement detector"};
    cli.require_subcommand(1);
    cli.set_version_flag("--version", std::string("flowguard ") + FLOWGUARD_VERSION);
    std::string config_path;
    std::string log_level;
    cli.add_option("-c,--config", config_path, "YAML configuration file (defaults apply without one)");
    cli.add_option("--log-level", log_level, "trace, debug, info, warn, error or off (overrides log.level)")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

    app::DecodeOptions decode;
    auto* decode_cmd = cli.add_subcommand("decode", "Decode NetFlow v5/v9, IPFIX and sFlow v5 datagrams from pcap/pcapng captures");
    decode_cmd->add_option("--format", decode.format, "json (goflow2 fields) or csv")
        ->check(CLI::IsMember({"json", "csv"}));
    std::uint16_t port = 0;
    decode_cmd->add_option("--port", port, "only UDP datagrams sent to this port (default: any)")
        ->check(CLI::Range(1, 65535));
    decode_cmd->add_option("captures", decode.captures, "capture files, decoded in order as one stream")
        ->required()->check(CLI::ExistingFile);

    app::CollectOptions collect;
    auto* collect_cmd = cli.add_subcommand("collect", "Receive NetFlow/IPFIX over UDP and write flow records");
    collect_cmd->add_option("--listen", collect.listen, "udp://ADDR:PORT, repeatable (default :2055 and :4739)");
    collect_cmd->add_option("--output", collect.output, "file to append JSON lines to, or - for stdout");
    collect_cmd->add_option("--format", collect.format, "json, csv or none (decode and count only)")
        ->check(CLI::IsMember({"json", "csv", "none"}));
    collect_cmd->add_option("--state-file", collect.state_file,
                            "save templates here on stop, load them on start (collector.state_file)");
    collect_cmd->add_option("--alerts", collect.alerts,
                            "run the detectors on every shard and append alerts here as JSON lines (- = stdout)");

    app::MeterOptions meter;
    auto* meter_cmd = cli.add_subcommand("meter", "Meter flows from packets: pcap/pcapng files or a live interface");
    meter_cmd->add_option("captures", meter.captures, "capture files, read in order as one capture")
        ->check(CLI::ExistingFile);
    meter_cmd->add_option("-i,--interface", meter.interface, "capture live on this interface (needs CAP_NET_RAW)");
    meter_cmd->add_option("--bpf", meter.bpf_filter, "libpcap filter expression (meter.bpf_filter)");
    meter_cmd->add_option("--capture-threads", meter.capture_threads, "live: threads sharing the interface (PACKET_FANOUT)")
        ->check(CLI::Range(1, 64));
    meter_cmd->add_option("--active-timeout", meter.active_timeout, "report long flows this often, e.g. 300s");
    meter_cmd->add_option("--idle-timeout", meter.idle_timeout, "end flows idle this long, e.g. 15s");
    meter_cmd->add_option("--format", meter.format, "json (goflow2 fields, type METER), csv or none")
        ->check(CLI::IsMember({"json", "csv", "none"}));
    meter_cmd->add_option("--dns-log", meter.dns_log, "append passive DNS queries and responses here as JSON lines");
    meter_cmd->add_flag("--no-dns", meter.no_dns, "do not parse DNS (meter.dns: false)");

    app::AnalyzeOptions analyze;
    auto* analyze_cmd = cli.add_subcommand(
        "analyze", "Run every detector over captures and flow/DNS JSON-lines files; alerts as JSON lines on stdout");
    analyze_cmd->add_option("inputs", analyze.inputs, "pcap/pcapng (traffic or flow exports) and JSON-lines files")
        ->required()->check(CLI::ExistingFile);

    app::SunburstOptions sunburst;
    auto* sunburst_cmd = cli.add_subcommand(
        "sunburst", "Decode SUNBURST avsvmcloud.com DNS names (arguments or stdin) into JSON lines");
    sunburst_cmd->add_option("names", sunburst.names, "DNS names; without any, one per line is read from stdin");

    auto* check_cmd = cli.add_subcommand("check-config", "Validate a configuration and print the effective one");
    std::string check_path;
    check_cmd->add_option("file", check_path, "YAML configuration file")->required();

    CLI11_PARSE(cli, argc, argv);
    if (sunburst_cmd->parsed()) return app::run_sunburst(sunburst);  // needs no configuration
    if (check_cmd->parsed()) config_path = check_path;

    Config config;
    try {
        if (!config_path.empty()) config = load_config_file(config_path);
    } catch (const ConfigError& e) {
        std::fprintf(stderr, "flowguard: config error: %s\n", e.what());
        return 2;
    }
    setup_logging(log_level.empty() ? config.log.level : log_level);

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
    return app::run_collect(config, collect);
}
