#pragma once
// What an NTA console shows, counted by one shard from the records it receives: bytes/packets/flows by
// exporter interface and direction, by IP protocol and by application, and the top talkers, destinations
// and conversations of the last complete window. Bytes and packets are scaled by the record's sampling
// rate (an estimate of the real traffic). Per record: a port lookup in a 64 Ki table and a few flat-map
// updates; every map is capped, so spoofed sources cannot grow it (excess is counted in "other").
#include <flowguard/core/counters.hpp>
#include <flowguard/core/flow_record.hpp>
#include <flowguard/core/metric_labels.hpp>
#include <flowguard/core/stage.hpp>
#include <flowguard/exporters/config.hpp>

#include <boost/container_hash/hash.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace flowguard::exporters {

struct TrafficTotals {
    std::uint64_t bytes = 0;
    std::uint64_t packets = 0;
    std::uint64_t flows = 0;
    TrafficTotals& operator+=(const TrafficTotals& o) noexcept;
};

// By exporter interface and direction ({exporter, if_index, direction}).
inline constexpr CounterTable<TrafficTotals, 3> kInterfaceTraffic{{
    {"", counter_ref<&TrafficTotals::bytes>, Merge::sum, "flowguard_traffic_bytes_total", MetricType::counter,
     "Bytes by exporter interface and direction (in: in_if, out: out_if)."},
    {"", counter_ref<&TrafficTotals::packets>, Merge::sum, "flowguard_traffic_packets_total", MetricType::counter,
     "Packets by exporter interface and direction."},
    {"", counter_ref<&TrafficTotals::flows>, Merge::sum, "flowguard_traffic_flows_total", MetricType::counter,
     "Flow records by exporter interface and direction."},
}};
static_assert(sizeof(TrafficTotals) == sizeof(std::uint64_t) * kInterfaceTraffic.size());
// By IP protocol ({protocol}).
inline constexpr CounterTable<TrafficTotals, 2> kProtocolTraffic{{
    {"", counter_ref<&TrafficTotals::bytes>, Merge::sum, "flowguard_protocol_bytes_total", MetricType::counter,
     "Bytes by IP protocol."},
    {"", counter_ref<&TrafficTotals::packets>, Merge::sum, "flowguard_protocol_packets_total", MetricType::counter,
     "Packets by IP protocol."},
}};
// By application ({application}).
inline constexpr CounterTable<TrafficTotals, 2> kApplicationTraffic{{
    {"", counter_ref<&TrafficTotals::bytes>, Merge::sum, "flowguard_application_bytes_total", MetricType::counter,
     "Bytes by application (well-known server port, metrics.applications)."},
    {"", counter_ref<&TrafficTotals::flows>, Merge::sum, "flowguard_application_flows_total", MetricType::counter,
     "Flow records by application."},
}};

// Three times per record: the adds written out, not merge_counters over the table (an indirect call per counter, 1-2 %
// of the daemon's CPU). The tables above name the same three fields; the assertion keeps them three.
inline TrafficTotals& TrafficTotals::operator+=(const TrafficTotals& o) noexcept {
    static_assert(sizeof(TrafficTotals) == 3 * sizeof(std::uint64_t), "a new TrafficTotals field needs adding here");
    bytes = saturating_add(bytes, o.bytes);  // as merge_counters sums: a hostile byte count pins, never wraps
    packets = saturating_add(packets, o.packets);
    flows = saturating_add(flows, o.flows);
    return *this;
}

struct InterfaceTrafficKey {
    IpAddress exporter;
    std::uint32_t if_index = 0;
    bool out = false;  // false: traffic that came in on if_index (in_if); true: left on it (out_if)
    friend bool operator==(const InterfaceTrafficKey&, const InterfaceTrafficKey&) = default;
};
std::size_t hash_value(const InterfaceTrafficKey& key) noexcept;

struct ConversationKey {
    IpAddress src;
    IpAddress dst;
    friend bool operator==(const ConversationKey&, const ConversationKey&) = default;
};
std::size_t hash_value(const ConversationKey& key) noexcept;

struct TopEntry {
    IpAddress address;
    IpAddress peer;  // conversations only
    std::uint64_t bytes = 0;
};

// Maps server ports to application names: a built-in list of well-known services plus metrics.applications.
class ApplicationMap {
public:
    explicit ApplicationMap(const std::vector<ApplicationPorts>& extra = {});
    // The application of a record: its lower well-known port that has a name, else "other" (index 0).
    std::uint8_t classify(const FlowRecord& r) const noexcept;
    const std::vector<std::string>& names() const noexcept { return names_; }

private:
    std::uint8_t id_of(const std::string& name);
    std::vector<std::string> names_{"other"};
    std::array<std::uint8_t, 65536> by_port_{};
};

std::string_view protocol_label(std::uint8_t proto) noexcept;  // tcp, udp, icmp, icmpv6, gre, esp, sctp, other

struct TrafficSnapshot {
    boost::unordered_flat_map<InterfaceTrafficKey, TrafficTotals, boost::hash<InterfaceTrafficKey>> interfaces;
    TrafficTotals other_interfaces;  // beyond the interface cap
    std::array<TrafficTotals, 256> protocols{};
    std::vector<TrafficTotals> applications;                     // indexed like ApplicationMap::names()
    std::vector<TopEntry> talkers, destinations, conversations;  // last complete window, largest first
    std::uint64_t window_end_ns = 0;

    // Adds another shard's snapshot; top lists are merged and cut to k again.
    void merge(const TrafficSnapshot& other, std::size_t k);
};

class TrafficStats {
public:
    TrafficStats(const MetricsConfig& config, const ApplicationMap& applications);

    void add(const FlowRecord& r);
    // Closes the current window when `now_ns` is past its end (the receive clock), ranking its top-K.
    void roll(std::uint64_t now_ns);
    const TrafficSnapshot& snapshot() const noexcept { return snapshot_; }

private:
    template <class Map, class Key>
    void count_window(Map& map, const Key& key, std::uint64_t bytes);

    MetricsConfig config_;
    const ApplicationMap& applications_;
    TrafficSnapshot snapshot_;  // cumulative counters + the last window's top lists
    boost::unordered_flat_map<IpAddress, std::uint64_t, boost::hash<IpAddress>> window_src_, window_dst_;
    boost::unordered_flat_map<ConversationKey, std::uint64_t, boost::hash<ConversationKey>> window_pairs_;
    std::uint64_t window_start_ns_ = 0;
};

// Traffic statistics of one shard as a pipeline stage; the metrics endpoint reads what it published.
class TrafficStage final : public Stage {
public:
    TrafficStage(const MetricsConfig& config, const ApplicationMap& applications) : stats_(config, applications) {}
    void on_flows(std::span<const FlowRecord> records, std::uint64_t now_ns, Alerts& alerts) override;
    void flush(std::uint64_t now_ns) override { stats_.roll(now_ns); }
    void publish() override;
    TrafficSnapshot published() const;

private:
    TrafficStats stats_;
    mutable std::mutex mutex_;
    TrafficSnapshot published_;
};

// Every shard's published traffic, merged: by interface (names bounded by `labels`), protocol, application,
// and the top talkers, destinations and conversations of the last complete window.
void write_traffic_metrics(MetricSink& sink, std::span<const TrafficStage* const> shards,
                           const ApplicationMap& applications, ExporterLabels& labels, std::size_t top_k);
void append_traffic_metric_specs(std::vector<MetricSpec>& catalog);

}  // namespace flowguard::exporters
