#pragma once
// flowguard's YAML configuration. Every key has a default, so an empty document (or no file at all)
// is a working configuration. Errors name the offending key path, e.g. "collector.listen[1]: ...".
#include <flowguard/core/ip_address.hpp>
#include <flowguard/core/network_set.hpp>

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flowguard {

class ConfigError : public std::runtime_error {
public:
    ConfigError(std::string key, std::string problem)
        : std::runtime_error(key.empty() ? problem : key + ": " + problem),
          key_(std::move(key)),
          problem_(std::move(problem)) {}
    const std::string& key() const noexcept { return key_; }
    const std::string& problem() const noexcept { return problem_; }

private:
    std::string key_;
    std::string problem_;
};

// A UDP listen address written as "udp://ADDR:PORT", "ADDR:PORT", "[V6]:PORT" or ":PORT".
struct ListenEndpoint {
    std::string address;  // numeric address; "0.0.0.0" or "::" for any
    std::uint16_t port = 0;

    static ListenEndpoint parse(std::string_view text);  // throws ConfigError with an empty key
    std::string to_string() const;                       // "udp://ADDR:PORT"
    friend bool operator==(const ListenEndpoint&, const ListenEndpoint&) = default;
};

struct ExporterSettings {
    IpAddress address;
    std::uint64_t sampling_rate = 0;  // overrides what the exporter announces; 0 = use the announced rate
};

struct TemplateLimits {
    std::size_t max_templates = 262144;  // all exporters together (~570 bytes each)
    std::size_t max_templates_per_exporter = 4096;
    std::size_t max_fields_per_template = 512;
};

// Data that arrives before its template is kept this long, within this memory, then counted as undecodable.
struct PendingDataLimits {
    std::uint64_t max_age_ns = 60ull * 1'000'000'000;
    std::size_t max_bytes = 8u << 20;
    std::size_t max_sets_per_template = 256;
};

struct CollectorConfig {
    std::vector<ListenEndpoint> listen{ListenEndpoint{"0.0.0.0", 2055}, ListenEndpoint{"0.0.0.0", 4739},
                                       ListenEndpoint{"0.0.0.0", 6343}};  // NetFlow, IPFIX, sFlow
    std::size_t socket_receive_buffer = 32u << 20;
    std::size_t max_streams = 65536;     // exporter streams (address, port, version, domain) tracked at once
    std::size_t max_interfaces = 65536;  // sFlow interface counter sets kept (agent, sub-agent, ifIndex)
    std::size_t receive_threads = 0;     // 0 = one per core; each opens its own SO_REUSEPORT socket per listener
    std::size_t recv_batch = 256;        // datagrams per recvmmsg call (with naps, what one wake-up can read)
    std::size_t max_datagram = 9216;     // receive slot per datagram; longer ones are counted as truncated
    std::uint64_t receive_coalesce_ns = 10'000'000;  // longest nap letting datagrams gather between reads (0 = off)
    std::string state_file;                          // templates saved here on stop and loaded on start ("" = none)
    TemplateLimits templates;
    PendingDataLimits pending;
    std::vector<ExporterSettings> exporters;
};

// The span-port meter: packets to one-way flows, like softflowd/nfpcapd.
struct MeterConfig {
    std::string interface;   // live capture interface ("" = none)
    std::string bpf_filter;  // libpcap filter expression
    std::size_t snaplen = 262144;
    bool promiscuous = true;
    std::size_t buffer_size = 64u << 20;                       // kernel capture ring (TPACKET_V3 via libpcap)
    std::size_t capture_threads = 1;                           // >1: PACKET_FANOUT (hash) across threads
    std::uint64_t active_timeout_ns = 300ull * 1'000'000'000;  // a long flow is reported at least this often
    std::uint64_t idle_timeout_ns = 15ull * 1'000'000'000;     // a flow ends after this long without packets
    std::uint64_t tcp_end_timeout_ns = 2ull * 1'000'000'000;   // after FIN/RST: time left for the last ACKs
    std::size_t max_flows = 1u << 20;                          // flow table cap; above it the stalest flows are evicted
    std::size_t max_fragments = 65536;  // IP fragment ids remembered to attribute later fragments
    bool dns = true;                    // passive DNS from port-53 traffic
    std::string export_to;              // `meter`: re-export records as IPFIX to udp://ADDR:PORT
    std::uint32_t export_domain = 1;    // IPFIX observation domain of that export
};

// Detector settings (docs/DETECTION.md explains each and how the defaults were tuned).
struct BeaconConfig {
    std::size_t min_connections = 10;        // events before a series is scored
    double threshold = 0.82;                 // combined score that raises an alert
    double min_dispersion_score = 0.55;      // 1 - MAD/median of intervals: jitter up to ~45% on average passes
    std::size_t max_clients_per_target = 4;  // this many clients beaconing to one target: a service, not C2
    std::size_t max_series = 131072;         // (client, target) series kept; the stalest are evicted beyond it
    std::vector<std::uint16_t> allow_ports{123, 110, 143, 993, 995};  // NTP and mail polling
    std::vector<std::string> allow_domains{"windowsupdate.com", "microsoft.com", "apple.com",  "ntp.org",
                                           "google.com",        "gstatic.com",   "ubuntu.com", "debian.org"};
};

struct DgaConfig {
    std::size_t min_unique_names = 12;  // distinct subdomains one client asks of one registered domain
    double threshold = 0.5;             // mean lexical score of those subdomains
    std::size_t max_clients = 3;        // random-looking names many clients resolve: a CDN, not a DGA
};

struct AnalyzerConfig {
    BeaconConfig beacon;
    DgaConfig dga;
    std::vector<std::string> ioc_files;  // user indicator lists, added to the shipped SUNBURST list
    std::vector<std::string> resolvers;  // internal resolvers (also learned from the DNS answers they send)
    std::string public_suffix_list = "/usr/share/publicsuffix/public_suffix_list.dat";
    std::uint64_t name_ttl_cap_ns = 3600ull * 1'000'000'000;  // how long an address keeps a resolved name at most
    std::size_t max_resolved = 1u << 20;                      // (client, address) -> name entries kept
};

struct PipelineConfig {
    std::size_t shards = 0;                // 0 = one per core; records of one internal host go to one shard
    std::size_t batches_per_channel = 64;  // batches in flight per (receive thread, shard) channel
    NetworkSet internal_networks = NetworkSet::private_networks();
};

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
    std::string ca_file;     // https: a CA bundle to trust instead of the system's
    bool tls_verify = true;  // https: verify the server's certificate and name
};

// Where `flowguard run` writes alerts.
struct AlertsConfig {
    std::string path = "-";  // JSON lines; "-" = stdout
    std::vector<WebhookConfig> webhooks;
    // Alerts wait here (one file each) until their webhook accepted them, across restarts.
    std::string spool_dir = "/var/lib/flowguard/spool";
    std::size_t max_spooled = 10000;                      // per webhook; beyond it new alerts are dropped and counted
    std::uint64_t retry_max_ns = 300ull * 1'000'000'000;  // backoff cap between delivery attempts
};

struct LogConfig {
    std::string level = "info";   // trace | debug | info | warn | error | off
    std::string format = "auto";  // auto (text on a terminal, JSON lines otherwise) | text | json
};

struct Config {
    CollectorConfig collector;
    MeterConfig meter;
    AnalyzerConfig analyzer;
    PipelineConfig pipeline;
    OutputConfig output;
    LogConfig log;
    MetricsConfig metrics;
    AlertsConfig alerts;
};

Config parse_config(std::string_view yaml_text);             // throws ConfigError
Config load_config_file(const std::filesystem::path& path);  // throws ConfigError
std::string to_yaml(const Config& config);                   // the effective configuration

// "30s", "5m", "2h", "250ms" or a plain number of seconds.
std::uint64_t parse_duration_ns(std::string_view text);  // throws ConfigError with an empty key
// "8MiB", "512KiB", "1GiB", "65536" (bytes).
std::size_t parse_size_bytes(std::string_view text);  // throws ConfigError with an empty key

}  // namespace flowguard
