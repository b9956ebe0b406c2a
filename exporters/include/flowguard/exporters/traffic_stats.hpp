#pragma once
// What an NTA console shows, counted by one shard from the records it receives: bytes/packets/flows by
// exporter interface and direction, by IP protocol and by application, and the top talkers, destinations
// and conversations of the last complete window. Bytes and packets are scaled by the record's sampling
// rate (an estimate of the real traffic). Per record: a port lookup in a 64 Ki table and a few flat-map
// updates; every map is capped, so spoofed sources cannot grow it (excess is counted in "other").
#include <flowguard/core/config.hpp>
#include <flowguard/core/flow_record.hpp>

#include <boost/container_hash/hash.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace flowguard::exporters {

struct TrafficTotals {
    std::uint64_t bytes = 0;
    std::uint64_t packets = 0;
    std::uint64_t flows = 0;
    TrafficTotals& operator+=(const TrafficTotals& o) noexcept {
        bytes += o.bytes;
        packets += o.packets;
        flows += o.flows;
        return *this;
    }
};

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

}  // namespace flowguard::exporters
