#pragma once
// The outputs' configuration sections: `output:` (flow records), `metrics:` (the Prometheus endpoint and the
// traffic statistics behind it) and `alerts:` (the alert log and webhooks).
#include <flowguard/core/config.hpp>

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flowguard {

struct OutputConfig {
    std::string path = "-";       // "-" = stdout
    std::string format = "json";  // json | csv | none
    bool configured = false;      // the file has an output section (`flowguard run` writes no records without one)
};

// Prometheus endpoint and the traffic (NTA) metrics behind it. Every label set is bounded by these caps.
struct ApplicationPorts {
    std::string name;                  // label value, e.g. "https"
    std::vector<std::uint16_t> ports;  // TCP/UDP server ports that mean this application
};

struct MetricsConfig {
    std::string listen = "127.0.0.1:9465";  // "ADDR:PORT"; "" = no endpoint
    std::string username;                   // basic auth when set
    std::string password;
    std::string tls_cert_file;  // HTTPS when set (PEM chain), with tls_key_file
    std::string tls_key_file;
    std::size_t max_exporters = 256;    // exporters named in labels; later ones are exporter="other"
    std::size_t max_interfaces = 1024;  // (exporter, ifIndex) pairs named in labels; later ones if_index="other"
    std::size_t top_k = 10;             // top talkers / destinations / conversations per window
    std::uint64_t top_window_ns = 60ull * 1'000'000'000;
    std::size_t max_window_keys = 65536;         // hosts / pairs counted per window and shard (spoofing cannot grow it)
    std::vector<ApplicationPorts> applications;  // added to (and overriding) the built-in port map
};

// One ticketing/chat endpoint that alerts are POSTed to (exporters/webhook.hpp).
struct WebhookConfig {
    std::string name;              // metric label and spool subdirectory: [A-Za-z0-9_-]
    std::string kind = "generic";  // generic (signed JSON) | slack | pagerduty | alertmanager
    std::string url;               // http://HOST[:PORT]/PATH or https://...; alertmanager: its base URL
    std::string secret;            // generic: HMAC-SHA256 key of the X-Flowguard-Signature header
    std::string routing_key;       // pagerduty: the integration (routing) key
    std::vector<std::pair<std::string, std::string>> headers;  // added to every request (e.g. Authorization)
    std::string min_severity = "low";                          // low | medium | high | critical
    std::uint64_t timeout_ns = 10ull * 1'000'000'000;
    std::string ca_file;            // https: a CA bundle to trust instead of the system's
    bool tls_verify = true;         // https: verify the server's certificate and name
    std::string format = "native";  // generic: native (flowguard's schema) | ecs (Elastic Common Schema)
};

// Where `flowguard run` writes alerts.
struct AlertsConfig {
    std::string path = "-";  // JSON lines; "-" = stdout
    std::vector<WebhookConfig> webhooks;
    // Alerts wait here (one file each) until their webhook accepted them, across restarts.
    std::string spool_dir = "/var/lib/flowguard/spool";
    std::size_t max_spooled = 10000;                      // per webhook; beyond it new alerts are dropped and counted
    std::uint64_t retry_max_ns = 300ull * 1'000'000'000;  // backoff cap between delivery attempts
    std::string format = "native";                        // the alert log: native | ecs
    // Findings' lifecycle (exporters/finding_ledger.hpp): open findings kept here across restarts ("" = not
    // kept; offline commands never use it), resolved after this long without activity, at most this many open.
    std::string state_file;
    std::uint64_t resolve_after_ns = 72ull * 3600 * 1'000'000'000;
    std::size_t max_open = 100000;
    std::string sensor;  // the observer name in every alert; "" = this host's name
};

// The flow archive (exporters/archive.hpp).
struct ArchiveConfig {
    std::string path;                                    // the directory; "" = no archive
    std::uint64_t interval_ns = 300ull * 1'000'000'000;  // a new file this often (60s .. 1d, whole minutes)
    std::uint64_t max_age_ns = 0;                        // files older than this are removed (0 = kept)
    std::uint64_t max_bytes = 0;                         // the oldest files are removed beyond this total (0 = no cap)
    std::string compression = "lz4";                     // lz4 | none
    std::size_t max_queued_flows = 262144;               // records waiting for the writer; beyond: dropped, counted
    bool events = true;                                  // DNS events and alerts archived too (event_archive.hpp)
    std::string events_path;                             // their directory; "" = <path>.events
    std::size_t max_queued_events = 16384;               // DNS events waiting for the writer; beyond: dropped, counted
    bool configured = false;                             // the file has an archive section
};

// The ClickHouse sink (exporters/clickhouse.hpp): flows inserted over ClickHouse's HTTP interface.
struct ClickHouseRetention {
    std::uint64_t flows_ns = 15ull * 86400 * 1'000'000'000;  // each table's days older than this are dropped
    std::uint64_t flows_1m_ns = 7ull * 86400 * 1'000'000'000;
    std::uint64_t flows_5m_ns = 90ull * 86400 * 1'000'000'000;
    std::uint64_t flows_1h_ns = 365ull * 86400 * 1'000'000'000;  // 0 = kept
};

struct ClickHouseConfig {
    std::string url;  // http(s)://HOST:PORT of the HTTP interface; "" = no ClickHouse
    std::string database = "flowguard";
    std::string username;  // basic auth when set (ClickHouse's user "default" otherwise)
    std::string password;
    bool create_schema = true;        // CREATE ... IF NOT EXISTS the tables and views at start
    std::string cluster;              // ON CLUSTER for the schema ("" = one server); see docs/STORAGE.md
    std::size_t batch_flows = 50000;  // an INSERT at most this many rows
    std::uint64_t batch_interval_ns = 5ull * 1'000'000'000;  // and at least this often while flows come
    std::size_t max_buffered_flows = 1'000'000;              // in memory while the server is down; then spooled
    std::string spool_dir;                                   // batches kept on disk beyond memory ("" = none)
    std::uint64_t max_spool_bytes = 1ull << 30;
    std::uint64_t timeout_ns = 30ull * 1'000'000'000;  // one request, connect to answer
    std::uint64_t retry_max_ns = 60ull * 1'000'000'000;
    std::uint64_t stop_grace_ns = 10ull * 1'000'000'000;  // at stop, batches wait this long for a server that answers
    std::string ca_file;
    bool tls_verify = true;
    ClickHouseRetention retention;
    bool configured = false;  // the file has a clickhouse section
};

// Read over the defaults in `out`; throw ConfigError naming the key.
void read_output_config(const YAML::Node& node, OutputConfig& out);
void read_metrics_config(const YAML::Node& node, MetricsConfig& out);
void read_alerts_config(const YAML::Node& node, AlertsConfig& out);
void read_archive_config(const YAML::Node& node, ArchiveConfig& out);
void read_clickhouse_config(const YAML::Node& node, ClickHouseConfig& out);
// metrics.listen as the collector's listeners are written ("ADDR:PORT", "[V6]:PORT", ":PORT" for all), without
// a scheme; throws ConfigError with an empty key. The config reader and the server both read it so.
ListenEndpoint parse_metrics_listen(std::string_view text);
// The effective sections; secrets print as "<set>".
void write_output_config(YAML::Emitter& out, const OutputConfig& o);
void write_metrics_config(YAML::Emitter& out, const MetricsConfig& m);
void write_alerts_config(YAML::Emitter& out, const AlertsConfig& a);
void write_archive_config(YAML::Emitter& out, const ArchiveConfig& a);
void write_clickhouse_config(YAML::Emitter& out, const ClickHouseConfig& c);

}  // namespace flowguard
