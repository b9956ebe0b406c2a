// flowguard: network flow collector and analyzer. One binary, one subcommand per job.
#include "commands.hpp"
#include "config.hpp"

#include <flowguard/core/logging.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

namespace {

// The span-port options of collect, run and meter.
void add_span_port_options(CLI::App& cmd, flowguard::app::Overrides& o, const std::string& what) {
    cmd.add_option("-i,--interface", o.interface, what + " (meter.interface; needs CAP_NET_RAW)");
    cmd.add_option("--bpf", o.bpf_filter, "libpcap filter for the interface (meter.bpf_filter)");
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
    app::Overrides overrides;

    app::DecodeOptions decode;
    auto* decode_cmd =
        cli.add_subcommand("decode", "Decode NetFlow v5/v9, IPFIX and sFlow v5 datagrams from pcap/pcapng captures");
    decode_cmd->add_option("--format", decode.format, "json (goflow2 fields) or csv")
        ->check(CLI::IsMember({"json", "csv"}));
    decode_cmd->add_option("--port", decode.port, "only UDP datagrams sent to this port (default: any)")
        ->check(CLI::Range(1, 65535));
    decode_cmd->add_option("captures", decode.captures, "capture files, decoded in order as one stream")
        ->required()
        ->check(CLI::ExistingFile);

    auto* collect_cmd = cli.add_subcommand("collect", "Receive NetFlow/IPFIX over UDP and write flow records");
    collect_cmd->add_option("--listen", overrides.listen,
                            "udp://ADDR:PORT, repeatable (default :2055, :4739 and :6343)");
    collect_cmd->add_option("--output", overrides.output, "file to append JSON lines to, or - for stdout");
    collect_cmd->add_option("--format", overrides.format, "json, csv or none (decode and count only)")
        ->check(CLI::IsMember({"json", "csv", "none"}));
    collect_cmd->add_option("--state-file", overrides.state_file,
                            "save templates here on stop, load them on start (collector.state_file)");
    collect_cmd->add_option("--alerts", overrides.alerts,
                            "run the detectors on every shard and append alerts here as JSON lines (- = stdout)");
    collect_cmd->add_option("--archive", overrides.archive,
                            "archive flows in this directory: nfcapd files, a new one every archive.interval");
    collect_cmd->add_option(
        "--clickhouse", overrides.clickhouse,
        "insert flows into ClickHouse at this HTTP URL (clickhouse.url), e.g. http://127.0.0.1:8123");
    add_span_port_options(*collect_cmd, overrides, "also meter this span-port interface into the pipeline");

    auto* run_cmd = cli.add_subcommand("run",
                                       "The daemon: collect NetFlow/IPFIX/sFlow, detect, serve Prometheus metrics "
                                       "(embedded default without --config)");
    run_cmd->add_option("--listen", overrides.listen, "udp://ADDR:PORT, repeatable (replaces collector.listen)");
    run_cmd->add_option("--metrics-listen", overrides.metrics_listen,
                        "ADDR:PORT of /metrics (metrics.listen; \"\" = off)");
    run_cmd->add_option("--alerts", overrides.alerts, "append alerts here as JSON lines, - = stdout (alerts.path)");
    run_cmd->add_option(
        "--archive", overrides.archive,
        "archive flows in this directory (archive.path; default " + std::string(app::kDefaultArchive) + ")");
    run_cmd->add_option("--clickhouse", overrides.clickhouse,
                        "insert flows into ClickHouse at this HTTP URL (clickhouse.url), e.g. http://127.0.0.1:8123");
    add_span_port_options(*run_cmd, overrides, "also meter this span-port interface: flows and passive DNS");

    auto* clickhouse_schema_cmd = cli.add_subcommand(
        "clickhouse-schema", "Print the ClickHouse schema the sink creates (clickhouse.database, clickhouse.cluster)");
    auto* metrics_doc_cmd = cli.add_subcommand("metrics-doc", "Print docs/METRICS.md from the metric catalogue");
    bool metric_names = false;
    metrics_doc_cmd->add_flag("--names", metric_names, "only the metric names, one per line");

    app::MeterOptions meter;
    auto* meter_cmd = cli.add_subcommand("meter", "Meter flows from packets: pcap/pcapng files or a live interface");
    meter_cmd->add_option("captures", meter.captures, "capture files, read in order as one capture")
        ->check(CLI::ExistingFile);
    add_span_port_options(*meter_cmd, overrides, "capture live on this interface");
    meter_cmd
        ->add_option("--capture-threads", overrides.capture_threads,
                     "live: threads sharing the interface (PACKET_FANOUT)")
        ->check(CLI::Range(1, 64));
    meter_cmd->add_option("--active-timeout", overrides.active_timeout, "report long flows this often, e.g. 300s");
    meter_cmd->add_option("--idle-timeout", overrides.idle_timeout, "end flows idle this long, e.g. 15s");
    meter_cmd->add_option("--format", meter.format, "json (goflow2 fields, type METER), csv or none")
        ->check(CLI::IsMember({"json", "csv", "none"}));
    meter_cmd->add_option("--dns-log", meter.dns_log, "append passive DNS queries and responses here as JSON lines");
    meter_cmd->add_flag("--no-dns", overrides.no_dns, "do not parse DNS (meter.dns: false)");
    meter_cmd->add_option("--export", overrides.export_to,
                          "also send the records as IPFIX to this collector, udp://ADDR:PORT (meter.export)");

    app::AnalyzeOptions analyze;
    auto* analyze_cmd = cli.add_subcommand(
        "analyze",
        "Run every detector over captures and flow/DNS logs (JSON lines, CSV); alerts as JSON lines on stdout");
    analyze_cmd->add_option("inputs", analyze.inputs, "pcap/pcapng (traffic or flow exports), JSON-lines and CSV logs")
        ->required()
        ->check(CLI::ExistingFile);
    analyze_cmd
        ->add_option("--baseline", analyze.baseline,
                     "a saved admin-service graph (flowguard graph output, analyzer.lateral.state_file)")
        ->check(CLI::ExistingFile);

    app::AnalyzeOptions graph;
    auto* graph_cmd = cli.add_subcommand(
        "graph", "Learn the admin-service graph from captures and logs; print it (edges, roles) as JSON lines");
    graph_cmd->add_option("inputs", graph.inputs, "pcap/pcapng (traffic or flow exports), JSON-lines and CSV logs")
        ->check(CLI::ExistingFile);
    graph_cmd->add_option("--baseline", graph.baseline, "start from this saved graph")->check(CLI::ExistingFile);

    app::QueryOptions query;
    auto* query_cmd = cli.add_subcommand(
        "query", "Print archived flows matching an nfdump filter, top-N statistics (-s), aggregates or series");
    query_cmd
        ->add_option("--archive", query.archives,
                     "archive directory (searched recursively) or nfcapd file, repeatable (default archive.path, "
                     "else " +
                         std::string(app::kDefaultArchive) + ")")
        ->allow_extra_args(false);
    query_cmd->add_option("-r,--read", query.files, "read this nfcapd file, repeatable")
        ->check(CLI::ExistingFile)
        ->allow_extra_args(false);
    query_cmd->add_option(
        "--from", query.from,
        "flows that ended at or after T: 2026-12-07T10:00:00Z, \"2026-12-07 10:00\", 2026/12/07.10:00, "
        "epoch seconds, or an age (-30d, -2h)");
    query_cmd->add_option("--to", query.to, "flows that started before T (same forms as --from)");
    query_cmd
        ->add_option("--dns", query.dns_logs,
                     "passive DNS log (JSON lines, meter --dns-log) for the filter's `name DOMAIN` terms, repeatable "
                     "(default: the archive's DNS files)")
        ->check(CLI::ExistingFile)
        ->allow_extra_args(false);
    query_cmd
        ->add_option("--events", query.events,
                     "print the archived DNS events or alerts of the window (JSON lines, as stored) instead of flows")
        ->check(CLI::IsMember({"dns", "alerts"}));
    query_cmd
        ->add_option("-s,--stat", query.stats,
                     "top-N statistic FIELD[/ORDER], repeatable: ip srcip dstip port srcport dstport proto "
                     "exporter interface inif outif as srcas dstas tos conversation record; ORDER flows "
                     "(default) packets bytes pps bps bpp")
        ->allow_extra_args(false);
    query_cmd->add_flag("-a,--aggregate", query.aggregate, "aggregate flows by 5-tuple");
    query_cmd->add_option(
        "-A,--aggregate-fields", query.aggregate_fields,
        "aggregate by these fields: srcip,dstip,srcport,dstport,proto,exporter,inif,outif,srcas,dstas,tos");
    query_cmd->add_option("-n,--top", query.top, "rows per statistic (default 10, 0 = all)");
    query_cmd->add_option("-c,--count", query.limit, "list at most this many flows");
    query_cmd->add_option("--every", query.every,
                          "time series: totals (or with -s, the top-N) per bucket of this length, e.g. 5m, 1h");
    query_cmd->add_option("--format", query.format, "json, csv or table (default: table on a terminal, else json)")
        ->check(CLI::IsMember({"json", "csv", "table"}));
    query_cmd->add_flag("!--no-progress", query.progress, "no progress line on a terminal");
    query_cmd->add_option("--threads", query.threads, "files read at once (default: one per core, at most 8)")
        ->check(CLI::Range(1, 64));
    query_cmd->add_option("filter", query.filter, "nfdump filter, e.g. 'src net 10.1.1.0/24 and dst port 443'");

    std::vector<std::string> names;
    auto* sunburst_cmd =
        cli.add_subcommand("sunburst", "Decode SUNBURST avsvmcloud.com DNS names (arguments or stdin) into JSON lines");
    sunburst_cmd->add_option("names", names, "DNS names; without any, one per line is read from stdin");

    auto* check_cmd = cli.add_subcommand("check-config", "Validate a configuration and print the effective one");
    std::string check_path;
    check_cmd->add_option("file", check_path, "YAML configuration file")->required();

    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version exit 0; every other command-line error is an argument error: 2, as documented
        // (CLI11's own codes are 105-109).
        return cli.exit(e) == 0 ? 0 : 2;
    }
    if (sunburst_cmd->parsed()) return app::run_sunburst(names);  // needs no configuration
    if (metrics_doc_cmd->parsed()) return app::print_metrics_doc(metric_names);
    if (check_cmd->parsed()) config_path = check_path;

    Config config;
    try {
        if (!config_path.empty()) config = load_config_file(config_path);
        overrides.apply(config);
        if (check_cmd->parsed() || run_cmd->parsed() || (collect_cmd->parsed() && overrides.alerts))
            check_config_files(config);
    } catch (const ConfigError& e) {
        std::fprintf(stderr, "flowguard: config error: %s\n", e.what());
        return 2;
    }
    setup_logging(log_level.empty() ? config.log.level : log_level, config.log.format);

    if (check_cmd->parsed()) {
        std::cout << to_yaml(config);
        return 0;
    }
    if (clickhouse_schema_cmd->parsed()) return app::print_clickhouse_schema(config);
    if (decode_cmd->parsed()) return app::run_decode(config, decode);
    if (query_cmd->parsed()) return app::run_query(config, query);
    if (analyze_cmd->parsed()) return app::run_analyze(config, analyze);
    if (graph_cmd->parsed()) return app::run_graph(config, graph);
    if (meter_cmd->parsed()) return app::run_meter(std::move(config), meter);
    if (run_cmd->parsed()) return app::run_daemon(std::move(config), config_path);
    return app::run_collect(std::move(config), {overrides.alerts.has_value(), false, config_path});
}
