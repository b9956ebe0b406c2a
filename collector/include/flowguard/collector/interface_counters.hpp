#pragma once
// Interface counters reported by exporters (sFlow v5 generic interface counter samples), kept so that
// utilisation per agent interface can be shown without polling SNMP. The table is bounded: an agent that
// reports more interfaces than the cap is counted, not stored.
#include <flowguard/core/counters.hpp>
#include <flowguard/core/ip_address.hpp>

#include <boost/container_hash/hash.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>

namespace flowguard::collector {

struct InterfaceKey {
    IpAddress agent;
    std::uint32_t sub_agent = 0;
    std::uint32_t if_index = 0;
    friend bool operator==(const InterfaceKey&, const InterfaceKey&) = default;
};

std::size_t hash_value(const InterfaceKey& key) noexcept;

// sFlow's if_counters (format 0:1): the MIB-II / IF-MIB counters as the agent last sent them.
struct InterfaceCounters {
    std::uint64_t updated_ns = 0;       // receive time of the sample that carried them
    std::uint32_t sample_sequence = 0;  // the counter sample's own sequence number
    std::uint32_t if_type = 0;          // IANAifType
    std::uint64_t speed_bps = 0;
    std::uint32_t direction = 0;  // 0 unknown, 1 full duplex, 2 half duplex, 3 in, 4 out
    bool admin_up = false;
    bool oper_up = false;
    std::uint64_t in_octets = 0;
    std::uint64_t in_packets = 0;  // unicast + multicast + broadcast
    std::uint64_t in_discards = 0;
    std::uint64_t in_errors = 0;
    std::uint64_t out_octets = 0;
    std::uint64_t out_packets = 0;
    std::uint64_t out_discards = 0;
    std::uint64_t out_errors = 0;
};

// Its counters as summary entries and metrics: {exporter, if_index}, and each counter's direction.
inline constexpr CounterTable<InterfaceCounters, 1> kInterfaceSpeed{{
    {"speed_bps", counter_ref<&InterfaceCounters::speed_bps>, Merge::max, "flowguard_interface_speed_bytes",
     MetricType::gauge, "Interface speed in bytes per second (sFlow ifSpeed / 8).", 1.0 / 8},
}};
inline constexpr CounterTable<InterfaceCounters, 8> kInterfaceCounters{{
    {"in_octets", counter_ref<&InterfaceCounters::in_octets>, Merge::sum, "flowguard_interface_octets_total",
     MetricType::counter, "Interface octets reported by sFlow counter samples.", 1, "in"},
    {"in_packets", counter_ref<&InterfaceCounters::in_packets>, Merge::sum, "flowguard_interface_packets_total",
     MetricType::counter, "Interface packets reported by sFlow counter samples.", 1, "in"},
    {"in_errors", counter_ref<&InterfaceCounters::in_errors>, Merge::sum, "flowguard_interface_errors_total",
     MetricType::counter, "Interface errors reported by sFlow counter samples.", 1, "in"},
    {"in_discards", counter_ref<&InterfaceCounters::in_discards>, Merge::sum, "flowguard_interface_discards_total",
     MetricType::counter, "Interface discards reported by sFlow counter samples.", 1, "in"},
    {"out_octets", counter_ref<&InterfaceCounters::out_octets>, Merge::sum, "flowguard_interface_octets_total",
     MetricType::counter, "Interface octets reported by sFlow counter samples.", 1, "out"},
    {"out_packets", counter_ref<&InterfaceCounters::out_packets>, Merge::sum, "flowguard_interface_packets_total",
     MetricType::counter, "Interface packets reported by sFlow counter samples.", 1, "out"},
    {"out_errors", counter_ref<&InterfaceCounters::out_errors>, Merge::sum, "flowguard_interface_errors_total",
     MetricType::counter, "Interface errors reported by sFlow counter samples.", 1, "out"},
    {"out_discards", counter_ref<&InterfaceCounters::out_discards>, Merge::sum, "flowguard_interface_discards_total",
     MetricType::counter, "Interface discards reported by sFlow counter samples.", 1, "out"},
}};

class InterfaceCounterTable {
public:
    explicit InterfaceCounterTable(std::size_t max_interfaces) : max_interfaces_(max_interfaces) {}

    // Stores the newest counters of an interface; false (and counted) when the table is full.
    bool update(const InterfaceKey& key, const InterfaceCounters& counters);

    void for_each(const std::function<void(const InterfaceKey&, const InterfaceCounters&)>& visit) const;
    std::size_t size() const noexcept { return table_.size(); }
    std::uint64_t rejected() const noexcept { return rejected_; }

private:
    std::size_t max_interfaces_;
    std::uint64_t rejected_ = 0;
    boost::unordered_flat_map<InterfaceKey, InterfaceCounters, boost::hash<InterfaceKey>> table_;
};

}  // namespace flowguard::collector
