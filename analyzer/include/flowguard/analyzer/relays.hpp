#pragma once
// Relays: forward proxies and NAT gateways, configured (beacon.relays) or learned. A relay's outbound series
// carry many clients' traffic under one source address, so they need stronger evidence
// (beacon.relay_threshold); and a beacon through a proxy is its client's, so the proxy's outbound connections
// are attributed to the client that opened a connection to the proxy just before (the CONNECT's upstream
// follows its client within beacon.relay_window) and scored as that client's series to the real destination.
//
// Learned: an internal host that internal clients connect to on one service port (relay_min_clients of them
// within a day) and that opens connections to relay_min_destinations external destinations a day is a proxy
// on that port (a mail relay qualifies too, harmlessly). NAT gateways are not learned: nobody connects to
// them; configure them (no ports).
//
// Attribution is by time alone, so it holds only while the proxy is quiet enough: an upstream connection is
// attributed when exactly one client had a connection start to the proxy in the window before it, else it stays
// the relay's own (counted). Both sides must be seen by the same detector: in `analyze` always; in the daemon the
// proxy's answers to its clients (src = proxy) route to the proxy's shard, so exporters must report both
// directions (meters and most exporters do). Upstream starts wait `kDecideAfterNs` of event time for client
// records that arrive late (exporters send records at their end, not their start).
#include <flowguard/core/counters.hpp>
#include <flowguard/core/ip_address.hpp>

#include <boost/unordered/unordered_flat_map.hpp>
#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace flowguard::analyzer {

// `analyzer.beacon.relays[]`: a proxy (ports: where its clients connect) or a NAT gateway (no ports).
struct RelayEntry {
    IpAddress address;
    std::vector<std::uint16_t> ports;
};

struct RelayConfig {
    std::vector<RelayEntry> relays;
    double threshold = 0.95;                     // a relay's own outbound series score at least this
    std::size_t min_clients = 3;                 // learning: clients on one port within a day (0: not learned)
    std::size_t min_destinations = 10;           // and external destinations a day
    std::uint64_t window_ns = 2'000'000'000ull;  // an upstream connection follows its client's within this
};

// The relay keys of `analyzer.beacon` (relays, relay_threshold, relay_min_clients, relay_min_destinations,
// relay_window); throws ConfigError.
void read_relay_config(const YAML::Node& beacon, const std::string& key, RelayConfig& out);
void write_relay_config(YAML::Emitter& out, const RelayConfig& relay);  // inside the beacon map

// A relay's outbound connection start, as decided: attributed to `client`, or the relay's own (client empty).
struct RelayedStart {
    IpAddress relay;
    IpAddress client;
    IpAddress server;
    IpAddress exporter;  // the record's exporter and input interface (the alert's observer)
    std::uint64_t time_ns = 0;
    std::uint64_t bytes = 0;
    std::uint32_t name_id = 0;  // the name the relay resolved for the server (PassiveDns id), 0 for none
    std::uint32_t input_interface = 0;
    std::uint16_t port = 0;
    std::uint8_t proto = 0;
};

struct RelayCounters {
    std::uint64_t relays = 0;              // configured and learned now
    std::uint64_t learned = 0;             // learned since start
    std::uint64_t attributed = 0;          // relay outbound connections attributed to a client
    std::uint64_t unattributed = 0;        // ... left the relay's own (no client in the window, or several)
    std::uint64_t learning_overflows = 0;  // learning state lost to a bound (see kRelayCounters)
};

inline constexpr CounterTable<RelayCounters, 5> kRelayCounters{{
    {"", counter_ref<&RelayCounters::relays>, Merge::sum, "flowguard_beacon_relays", MetricType::gauge,
     "Relays (forward proxies, NAT gateways) the beacon detector knows now: configured and learned."},
    {"", counter_ref<&RelayCounters::learned>, Merge::sum, "flowguard_beacon_relays_learned_total", MetricType::counter,
     "Hosts learned as proxies (many internal clients in, many external destinations out)."},
    {"", counter_ref<&RelayCounters::attributed>, Merge::sum, "flowguard_beacon_relay_attributed_total",
     MetricType::counter, "Proxy outbound connections attributed to the client that opened them."},
    {"", counter_ref<&RelayCounters::unattributed>, Merge::sum, "flowguard_beacon_relay_unattributed_total",
     MetricType::counter,
     "Proxy outbound connections no single client could be matched to: scored as the relay's own."},
    {"", counter_ref<&RelayCounters::learning_overflows>, Merge::sum, "flowguard_beacon_relay_learning_overflows_total",
     MetricType::counter,
     "Relay learning cut short by a bound: the service-port table cleared when full (65,536), a candidate or a "
     "learned relay not taken (4,096 candidates, 256 learned relays)."},
}};

class Relays {
public:
    static constexpr std::uint64_t kDecideAfterNs = 60'000'000'000ull;
    static constexpr std::size_t kMaxLearned = 256;
    static constexpr std::size_t kRecent = 256;  // client starts and undecided upstreams kept per relay

    explicit Relays(const RelayConfig& config);

    // A connection start between internal hosts, `server`:`port` the service side (either record direction).
    void internal_connection(const IpAddress& client, std::uint16_t client_port, const IpAddress& server,
                             std::uint16_t port, std::uint64_t time_ns);
    // Noted for learning: an internal host's outbound connection start to an external destination.
    void outbound_destination(const IpAddress& host, const IpAddress& destination, std::uint64_t time_ns);

    bool is_relay(const IpAddress& host) const { return relays_.contains(host); }
    // Connections from this host are attributed to its clients (a proxy: it has client-facing ports).
    bool proxies(const IpAddress& host) const;
    // A proxy's outbound connection start: waits for attribution (decide()).
    void upstream(const RelayedStart& start);
    bool decide_due(std::uint64_t now_ns) const noexcept { return now_ns >= next_decide_ns_; }
    // Upstream starts whose wait ended by `now_ns` (UINT64_MAX: all), attributed or not, appended to `out`.
    void decide(std::uint64_t now_ns, std::vector<RelayedStart>& out);

    RelayCounters counters() const noexcept;

private:
    struct ClientStart {
        std::uint64_t time_ns = 0;
        IpAddress client;
        std::uint16_t client_port = 0;
        bool claimed = false;
    };
    struct Relay {
        std::vector<std::uint16_t> ports;
        std::array<ClientStart, kRecent> recent{};  // a ring, newest at head - 1
        std::size_t head = 0;
        std::vector<RelayedStart> waiting;  // upstream starts, in arrival order
    };
    // A relay candidate being learned: its service ports with enough clients, its destinations today.
    struct Candidate {
        std::vector<std::uint16_t> ports;
        std::array<std::uint64_t, 2> destinations{};  // linear counting bitmap (distinct destinations)
        std::uint64_t day_start_ns = 0;
    };
    struct PortKey {
        IpAddress server;
        std::uint16_t port = 0;
        friend bool operator==(const PortKey&, const PortKey&) = default;
    };
    struct PortHash {
        std::size_t operator()(const PortKey& k) const noexcept { return hash_value(k.server) ^ k.port; }
    };
    struct PortClients {
        std::array<IpAddress, 8> client{};
        std::array<std::uint64_t, 8> noted_ns{};
    };

    void learn_port(const IpAddress& client, const IpAddress& server, std::uint16_t port, std::uint64_t time_ns);
    void remember(Relay& relay, const IpAddress& client, std::uint16_t client_port, std::uint64_t time_ns);
    RelayedStart decide_one(Relay& relay, RelayedStart start);
    static std::size_t distinct(const std::array<std::uint64_t, 2>& bitmap) noexcept;

    RelayConfig config_;
    boost::unordered_flat_map<IpAddress, Relay> relays_;  // boost::hash: hash_value(IpAddress)
    boost::unordered_flat_map<IpAddress, Candidate> candidates_;
    boost::unordered_flat_map<PortKey, PortClients, PortHash> port_clients_;  // learning; cleared daily
    std::uint64_t port_clients_day_ns_ = 0;
    std::uint64_t next_decide_ns_ = UINT64_MAX;
    std::uint64_t learned_ = 0;
    std::uint64_t attributed_ = 0;
    std::uint64_t unattributed_ = 0;
    std::uint64_t learning_overflows_ = 0;
};

}  // namespace flowguard::analyzer
