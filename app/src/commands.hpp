#pragma once
#include <flowguard/core/config.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace flowguard::app {

struct DecodeOptions {
    std::string format = "json";
    std::optional<std::uint16_t> port;  // only datagrams to this UDP port
    std::vector<std::string> captures;
};

struct CollectOptions {
    std::vector<std::string> listen;  // overrides collector.listen when given
    std::optional<std::string> output;
    std::optional<std::string> format;
    std::optional<std::string> state_file;
    std::optional<std::string> alerts;      // run the detectors on every shard, alerts appended here ("-" = stdout)
    bool metrics = false;                   // serve /metrics on config.metrics.listen, count traffic per shard
    std::optional<std::string> interface;   // span-port capture (meter.interface)
    std::optional<std::string> bpf_filter;  // meter.bpf_filter
    std::string config_path;                // re-read on SIGHUP for the analyzer's lists ("" = none)
};

struct RunOptions {
    std::string config_path;          // --config: otherwise the embedded default runs
    std::vector<std::string> listen;  // --listen, repeatable: replaces collector.listen
    std::optional<std::string> metrics_listen;
    std::optional<std::string> alerts;      // overrides alerts.path
    std::optional<std::string> interface;   // span-port capture (meter.interface)
    std::optional<std::string> bpf_filter;  // meter.bpf_filter
};

struct MeterOptions {
    std::vector<std::string> captures;  // pcap/pcapng files, read in order as one capture
    std::optional<std::string> interface;
    std::optional<std::string> bpf_filter;
    std::optional<std::size_t> capture_threads;
    std::optional<std::string> active_timeout;
    std::optional<std::string> idle_timeout;
    std::string format = "json";
    std::optional<std::string> dns_log;
    bool no_dns = false;
    std::optional<std::string> export_to;  // meter.export: IPFIX to udp://ADDR:PORT
};

struct AnalyzeOptions {
    std::vector<std::string> inputs;  // pcap/pcapng captures and JSON-lines flow/DNS files
};

struct SunburstOptions {
    std::vector<std::string> names;  // empty: one name per line on stdin
};

// Each returns the process exit code.
int run_decode(const Config& config, const DecodeOptions& options);
int run_collect(Config config, const CollectOptions& options);
int run_daemon(Config config, const RunOptions& options);
int print_metrics_doc(bool names_only);
int run_sunburst(const SunburstOptions& options);
int run_meter(Config config, const MeterOptions& options);
int run_analyze(const Config& config, const AnalyzeOptions& options);

}  // namespace flowguard::app
