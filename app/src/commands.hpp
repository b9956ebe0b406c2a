#pragma once
// The commands: each wires sources, stages and sinks from the configuration and returns the exit code
// (0 ok, 1 runtime failure, 2 bad configuration or arguments).
#include "config.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace flowguard::app {

// Command-line settings over the configuration file's; each names the key it replaces.
struct Overrides {
    std::vector<std::string> listen;             // collector.listen
    std::optional<std::string> output;           // output.path
    std::optional<std::string> format;           // output.format
    std::optional<std::string> state_file;       // collector.state_file
    std::optional<std::string> alerts;           // alerts.path
    std::optional<std::string> archive;          // archive.path
    std::optional<std::string> clickhouse;       // clickhouse.url
    std::optional<std::string> metrics_listen;   // metrics.listen
    std::optional<std::string> interface;        // meter.interface
    std::optional<std::string> bpf_filter;       // meter.bpf_filter
    std::optional<std::size_t> capture_threads;  // meter.capture_threads
    std::optional<std::string> active_timeout;   // meter.active_timeout
    std::optional<std::string> idle_timeout;     // meter.idle_timeout
    bool no_dns = false;                         // meter.dns: false
    std::optional<std::string> export_to;        // meter.export
    // Throws ConfigError naming the option whose value does not parse.
    void apply(Config& config) const;
};

struct DecodeOptions {
    std::string format = "json";
    std::optional<std::uint16_t> port;  // only datagrams to this UDP port
    std::vector<std::string> captures;
};

// Where `run` on the embedded default (no --config) archives flows without --archive (the state directory).
inline constexpr std::string_view kDefaultArchive = "/var/lib/flowguard/archive";

struct CollectOptions {
    bool detect = false;           // the detectors on every shard, alerts to alerts.path and webhooks
    bool metrics = false;          // serve /metrics on metrics.listen, count traffic per shard
    std::string config_path;       // re-read on SIGHUP for the detectors' lists ("" = none)
    bool default_archive = false;  // archive.path is run's default: a directory that cannot be made is a warning
};

struct MeterOptions {
    std::vector<std::string> captures;  // pcap/pcapng files, read in order as one capture (or meter.interface)
    std::string format = "json";
    std::optional<std::string> dns_log;
};

int run_decode(const Config& config, const DecodeOptions& options);
int run_collect(Config config, const CollectOptions& options);
// `collect` with detectors and metrics always on, and the daemon's defaults (no flow records without an
// output section: alerts own stdout).
int run_daemon(Config config, const std::string& config_path);
int run_meter(Config config, const MeterOptions& options);
struct AnalyzeOptions {
    std::vector<std::string> inputs;
    std::string baseline;  // a saved graph (`flowguard graph` output or a state file) for the lateral stage
};

int run_analyze(const Config& config, const AnalyzeOptions& options);
// `flowguard graph`: the lateral stage's learned graph after the inputs, as JSON lines on stdout.
int run_graph(const Config& config, const AnalyzeOptions& options);
struct QueryOptions {
    std::vector<std::string> archives;  // directories (searched recursively) and files; none: archive.path
    std::vector<std::string> files;     // -r: single files (nfcapd's too)
    std::vector<std::string> dns_logs;  // --dns: passive DNS logs for `name` terms (default: the archive's DNS files)
    std::optional<std::string> events;  // --events dns|alerts: the archived events of the window, not flows
    std::optional<std::string> from, to;
    std::vector<std::string> filter;              // words joined by spaces: `query src net 10.0.0.0/8 and port 443`
    std::vector<std::string> stats;               // -s FIELD[/ORDER], repeatable
    bool aggregate = false;                       // -a: by 5-tuple
    std::optional<std::string> aggregate_fields;  // -A srcip,dstport
    std::size_t top = 10;                         // -n (0 = all)
    std::optional<std::uint64_t> limit;           // -c: at most this many flows listed
    std::optional<std::string> every;             // --every 5m
    std::optional<std::string> format;            // json, csv, table; default table on a terminal, else json
    bool progress = true;
    unsigned threads = 0;  // files read at once (0 = one per core, at most 8)
};
int run_query(const Config& config, const QueryOptions& options);

int run_sunburst(std::vector<std::string> names);  // none: one per line on stdin
int print_metrics_doc(bool names_only);
int print_clickhouse_schema(const Config& config);  // the statements, each ending in ";"

}  // namespace flowguard::app
