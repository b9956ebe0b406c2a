#pragma once
// The collector's configuration sections: `collector:` (listeners, receive threads, templates, exporters)
// and `meter:` (the span-port meter). Read and printed here; docs/CONFIGURATION.md explains each key.
#include <flowguard/core/config.hpp>
#include <flowguard/core/ip_address.hpp>

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

namespace flowguard {

struct ExporterSettings {
    IpAddress address;
    std::uint64_t sampling_rate = 0;  // overrides what the exporter announces; 0 = use the announced rate
};

// Process-wide: each receive thread's decoder gets an equal share of the totals (share_per_thread).
struct TemplateLimits {
    std::size_t max_templates = 262144;  // all exporters together
    std::size_t max_bytes = 128u << 20;  // what they cost (~500 B for a small template, ~5 KB for 512 fields)
    std::size_t max_templates_per_exporter = 4096;  // per exporter stream
    std::size_t max_fields_per_template = 512;
};

// Data that arrives before its template is kept this long, within this memory (each held set is charged its
// body and ~250 bytes of bookkeeping), then counted as undecodable. max_bytes is process-wide.
struct PendingDataLimits {
    std::uint64_t max_age_ns = 60ull * 1'000'000'000;
    std::size_t max_bytes = 8u << 20;
    std::size_t max_sets_per_template = 256;
};

struct CollectorConfig {
    std::vector<ListenEndpoint> listen{ListenEndpoint{"0.0.0.0", 2055}, ListenEndpoint{"0.0.0.0", 4739},
                                       ListenEndpoint{"0.0.0.0", 6343}};  // NetFlow, IPFIX, sFlow
    std::size_t socket_receive_buffer = 32u << 20;
    std::size_t max_streams = 65536;             // exporter streams (address, port, version, domain) tracked at once
    std::size_t max_streams_per_exporter = 256;  // of one exporter address
    std::size_t max_interfaces = 65536;          // sFlow interface counter sets kept (agent, sub-agent, ifIndex)
    std::size_t receive_threads = 0;  // 0 = one per core; each opens its own SO_REUSEPORT socket per listener
    std::size_t recv_batch = 256;     // datagrams per recvmmsg call (with naps, what one wake-up can read)
    std::size_t max_datagram = 9216;  // receive slot per datagram; longer ones are counted as truncated
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

// The caps that hold for the whole process (streams, templates, their bytes, pending data, interfaces),
// divided between `threads` receive threads: what each thread's decoder may hold. Per-stream caps (templates
// per exporter stream, sets per template, fields per template) stay whole.
CollectorConfig share_per_thread(const CollectorConfig& config, std::size_t threads);

// Reads a section over the defaults in `out`; throws ConfigError naming the key.
void read_collector_config(const YAML::Node& node, CollectorConfig& out);
void read_meter_config(const YAML::Node& node, MeterConfig& out);
// The effective section, as `check-config` prints it.
void write_collector_config(YAML::Emitter& out, const CollectorConfig& c);
void write_meter_config(YAML::Emitter& out, const MeterConfig& m);

}  // namespace flowguard
