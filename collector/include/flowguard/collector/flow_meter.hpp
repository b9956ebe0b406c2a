#pragma once
// The span-port meter's flow table: parsed packets in, one-way flow records out (as NetFlow v5/v9 exporters and
// nfpcapd report them), bytes counted at layer 3. Flows end on idle timeout, active timeout, FIN/RST (after a
// short grace for the last ACKs), table pressure, or flush. Packet time is the clock, so a capture file
// replays exactly as it was recorded.
#include <flowguard/collector/config.hpp>
#include <flowguard/collector/packet_parser.hpp>
#include <flowguard/core/counters.hpp>
#include <flowguard/core/flow_record.hpp>

#include <boost/unordered/unordered_flat_map.hpp>

#include <cstdint>
#include <memory>
#include <vector>

namespace flowguard::collector {

template <typename Key>
class ExpiryWheel;

struct MeterStats {
    std::uint64_t packets = 0;  // IP packets accounted to flows
    std::uint64_t bytes = 0;    // their layer-3 bytes
    std::uint64_t flows_created = 0;
    std::uint64_t flows_expired = 0;        // records emitted (a split long flow counts once per record)
    std::uint64_t evictions = 0;            // flows ended early because the table was full
    std::uint64_t fragments_unmatched = 0;  // later fragments whose first fragment was not seen
    std::uint64_t fragment_table_resets = 0;

    MeterStats& operator+=(const MeterStats& o) noexcept;
};

inline constexpr CounterTable<MeterStats, 7> kMeterStats{{
    {"packets", counter_ref<&MeterStats::packets>},
    {"bytes", counter_ref<&MeterStats::bytes>},
    {"flows_created", counter_ref<&MeterStats::flows_created>},
    {"records", counter_ref<&MeterStats::flows_expired>, Merge::sum, "flowguard_meter_records_total",
     MetricType::counter, "Flow records the meter produced (flows ended or reported)."},
    {"evictions", counter_ref<&MeterStats::evictions>, Merge::sum, "flowguard_meter_evictions_total",
     MetricType::counter, "Flows evicted early because the flow table was full."},
    {"fragments_unmatched", counter_ref<&MeterStats::fragments_unmatched>},
    {"", counter_ref<&MeterStats::fragment_table_resets>},
}};
static_assert(sizeof(MeterStats) == sizeof(std::uint64_t) * kMeterStats.size());

inline MeterStats& MeterStats::operator+=(const MeterStats& o) noexcept {
    merge_counters(*this, o, kMeterStats);
    return *this;
}

// IPFIX flowEndReason values (RFC 7011 / IANA).
enum class FlowEndReason : std::uint8_t { idle = 1, active = 2, end_of_flow = 3, forced = 4, lack_of_resources = 5 };

class FlowMeter {
public:
    FlowMeter(const MeterConfig& config, IpAddress observer);
    ~FlowMeter();
    FlowMeter(FlowMeter&&) noexcept;
    FlowMeter& operator=(FlowMeter&&) noexcept;

    // Accounts one packet seen at time_ns; flows that ended meanwhile are appended to `expired`.
    void add(const PacketView& packet, std::uint64_t time_ns, std::vector<FlowRecord>& expired);
    // Ends flows whose timeouts passed at now_ns (add() calls this once per second of packet time).
    void expire(std::uint64_t now_ns, std::vector<FlowRecord>& expired);
    // Ends every flow (end of capture, shutdown).
    void flush(std::vector<FlowRecord>& expired);

    std::size_t active_flows() const noexcept { return flows_.size(); }
    std::size_t timer_entries() const noexcept;  // the expiry wheel's entries, stale ones included
    const MeterStats& stats() const noexcept { return stats_; }

private:
    struct Key {
        std::array<std::uint8_t, 16> src;
        std::array<std::uint8_t, 16> dst;
        std::uint16_t src_port;
        std::uint16_t dst_port;
        std::uint16_t vlan;
        std::uint8_t proto;
        std::uint8_t family;
        friend bool operator==(const Key&, const Key&) = default;
    };
    struct KeyHash {
        std::size_t operator()(const Key& key) const noexcept;
    };
    struct Flow {
        std::uint64_t first_ns;
        std::uint64_t last_ns;
        std::uint64_t packets;
        std::uint64_t bytes;
        std::uint64_t src_mac;
        std::uint64_t dst_mac;
        std::uint32_t flow_label;
        std::uint8_t tcp_flags;
        std::uint8_t tos;
        std::uint8_t ttl;
        std::uint8_t icmp_type;
        std::uint8_t icmp_code;
        bool ended;              // FIN or RST seen
        std::uint64_t armed_ns;  // its live entry in the expiry wheel
    };
    struct FragmentKey {
        std::array<std::uint8_t, 16> src;
        std::array<std::uint8_t, 16> dst;
        std::uint32_t id;
        std::uint8_t proto;
        friend bool operator==(const FragmentKey&, const FragmentKey&) = default;
    };
    struct FragmentKeyHash {
        std::size_t operator()(const FragmentKey& key) const noexcept;
    };
    struct Ports {
        std::uint16_t src;
        std::uint16_t dst;
    };

    void emit(const Key& key, const Flow& flow, FlowEndReason reason, std::uint64_t now_ns,
              std::vector<FlowRecord>& out);
    std::uint64_t deadline(const Flow& flow) const noexcept;  // when its first timeout passes
    void arm(const Key& key, Flow& flow, std::uint64_t deadline_ns);
    void look_at(const Key& key, std::uint64_t armed_ns, std::uint64_t now_ns, std::vector<FlowRecord>& expired);
    void evict_stalest(std::uint64_t now_ns, std::vector<FlowRecord>& out);
    bool attribute_fragment(const PacketView& packet, Key& key);

    MeterConfig config_;
    IpAddress observer_;
    boost::unordered_flat_map<Key, Flow, KeyHash> flows_;
    boost::unordered_flat_map<FragmentKey, Ports, FragmentKeyHash> fragments_;
    // When each flow is next looked at. The table itself is not rebuilt against Boost 1.81's probe drift:
    // under constant churn the drift levels off (~+30 %, bench/churn_bench --raw-map) while a rebuild costs
    // more than it saves (core/flat_map_rebuild.hpp).
    std::unique_ptr<ExpiryWheel<Key>> wheel_;
    std::vector<std::uint64_t> scratch_;  // reused by eviction
    std::uint64_t clock_ns_ = 0;          // latest packet time seen (captures can be slightly out of order)
    std::uint64_t next_sweep_ns_ = 0;
    MeterStats stats_;
};

}  // namespace flowguard::collector
