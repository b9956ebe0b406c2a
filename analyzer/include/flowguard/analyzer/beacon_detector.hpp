#pragma once
// Beaconing over flows (C2 check-ins, T1071/T1573): an internal client calling one external target on a
// schedule. Records are first joined into connections (connections.hpp): a series counts connection starts,
// so a long-lived session's keep-alives are not a beacon. Two series per client: by address and port, and by
// the registered domain passive DNS resolved the address to (C2 behind rotating addresses), both scored by
// BeaconSeries; a target is popular when it is by address or by name. Not scored: inbound and internal-only
// traffic, answers (a server port towards a client port), DNS, allow-listed ports and domains. sFlow records
// are sampled packets: a connection's burst of them counts once.
//
// Long connections (RITA's): a session open for beacon.long_connection to a destination that fewer than
// max_clients_per_target clients hold sessions of 10 minutes or more to within a day (by address and by name):
// a reverse shell or a C2 channel kept open, not a shared service such as chat or a VPN gateway.
#include <flowguard/analyzer/beacon_series.hpp>
#include <flowguard/analyzer/connections.hpp>
#include <flowguard/analyzer/detector.hpp>
#include <flowguard/analyzer/popularity.hpp>

#include <optional>
#include <unordered_set>

namespace flowguard::analyzer {

struct ConnectionCounters {
    std::uint64_t connections = 0;           // connections tracked now
    std::uint64_t connection_evictions = 0;  // connections forgotten at beacon.max_connections
    std::uint64_t records_continuing = 0;    // records that continued a connection (not scored as a start)
};

inline constexpr CounterTable<ConnectionCounters, 3> kConnectionCounters{{
    {"", counter_ref<&ConnectionCounters::connections>, Merge::sum, "flowguard_beacon_connections", MetricType::gauge,
     "Outbound connections the beacon detector tracks now (records joined per 5-tuple)."},
    {"", counter_ref<&ConnectionCounters::connection_evictions>, Merge::sum,
     "flowguard_beacon_connection_evictions_total", MetricType::counter,
     "Connections forgotten at beacon.max_connections (their next record counts as a new connection)."},
    {"", counter_ref<&ConnectionCounters::records_continuing>, Merge::sum, "flowguard_beacon_records_continuing_total",
     MetricType::counter,
     "Outbound records that continued a connection (keep-alives, timeout splits): not beacon events."},
}};

class BeaconDetector final : public Detector {
public:
    explicit BeaconDetector(const BeaconConfig& config);
    std::string_view name() const override { return "beacon"; }
    void on_flows(const FlowBatchView& batch, AlertOut& out) override;
    void finish(const PassiveDns& context, AlertOut& out) override;
    void reload(const AnalyzerLists& lists) override;
    DetectorStats stats() const override;
    void write_metrics(MetricSink& sink) const override;

private:
    Alert alert_of(const BeaconFinding& finding, const PassiveDns& context) const;
    // A continued connection: noted for long sessions' popularity, reported once it is long and rare.
    std::optional<Alert> long_connection(const ConnectionKey& key, Connection& connection, const PassiveDns& context);
    Alert long_connection_alert(const ConnectionKey& key, const Connection& connection, std::uint64_t duration,
                                std::size_t clients, const PassiveDns& context) const;

    BeaconConfig config_;
    BeaconSeries series_;
    ConnectionTracker connections_;
    ClientActivity activity_;   // when each client sent anything outbound (sleep-aware scoring)
    Popularity long_sessions_;  // clients holding sessions of 10 minutes or more, per address and per name
    std::uint64_t suppressed_long_ = 0;
    std::uint64_t records_continuing_ = 0;
    std::unordered_set<std::uint16_t> allow_ports_;
};

}  // namespace flowguard::analyzer
