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
//
// Relays (relays.hpp): a proxy's outbound connections are scored as the series of the client each is attributed
// to (the finding says `via_relay`); those no client can be matched to, and a NAT gateway's, are the relay's own
// series and must reach beacon.relay_threshold.
#include <flowguard/analyzer/beacon_series.hpp>
#include <flowguard/analyzer/connections.hpp>
#include <flowguard/analyzer/detector.hpp>
#include <flowguard/analyzer/popularity.hpp>
#include <flowguard/analyzer/relays.hpp>

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

struct RelaySuppression {
    std::uint64_t suppressed = 0;  // scorings of a relay's own series above threshold, below relay_threshold
};

inline constexpr CounterTable<RelaySuppression, 1> kRelaySuppression{{
    {"", counter_ref<&RelaySuppression::suppressed>, Merge::sum, "flowguard_beacon_relay_suppressed_total",
     MetricType::counter,
     "Scorings of a relay's own series periodic enough for one client but below beacon.relay_threshold."},
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
    const Relays& relays() const noexcept { return relays_; }

private:
    Alert alert_of(const BeaconFinding& finding, const PassiveDns& context) const;
    // A record between two internal hosts: a client's connection to a relay (attribution), or learning.
    void internal_record(const FlowRecord& flow);
    // An outbound connection start scored in the series of `client` (the record's source, or the client a
    // relay's connection is attributed to).
    void score_start(const RelayedStart& start, std::uint64_t repeat_ns, std::uint32_t index, const PassiveDns& context,
                     AlertOut& out);
    void decide_relayed(std::uint64_t now_ns, std::uint32_t index, const PassiveDns& context, AlertOut& out);
    // A continued connection: noted for long sessions' popularity, reported once it is long and rare.
    std::optional<Alert> long_connection(const ConnectionKey& key, Connection& connection, const PassiveDns& context);
    Alert long_connection_alert(const ConnectionKey& key, const Connection& connection, std::uint64_t duration,
                                std::size_t clients, const PassiveDns& context) const;

    BeaconConfig config_;
    BeaconSeries series_;
    ConnectionTracker connections_;
    ClientActivity activity_;   // when each client sent anything outbound (sleep-aware scoring)
    Popularity long_sessions_;  // clients holding sessions of 10 minutes or more, per address and per name
    Relays relays_;
    std::vector<RelayedStart> decided_;  // scratch for relays_.decide()
    std::uint64_t suppressed_long_ = 0;
    std::uint64_t records_continuing_ = 0;
    std::unordered_set<std::uint16_t> allow_ports_;
};

}  // namespace flowguard::analyzer
