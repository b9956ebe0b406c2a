#pragma once
// Beaconing over flows (C2 check-ins, T1071/T1573): an internal client calling one external target on a
// schedule. Two series per client: by address and port, and by the registered domain passive DNS resolved the
// address to (C2 behind rotating addresses), both scored by BeaconSeries. Not scored: inbound and internal-only
// traffic, answers (a server port towards a client port), DNS, allow-listed ports and domains. sFlow records
// are sampled packets: a connection's burst of them counts once.
#include <flowguard/analyzer/beacon_series.hpp>
#include <flowguard/analyzer/detector.hpp>

#include <unordered_set>

namespace flowguard::analyzer {

class BeaconDetector final : public Detector {
public:
    explicit BeaconDetector(const BeaconConfig& config);
    std::string_view name() const override { return "beacon"; }
    void on_flows(const FlowBatchView& batch, AlertOut& out) override;
    void finish(const PassiveDns& context, AlertOut& out) override;
    void reload(const AnalyzerLists& lists) override;
    DetectorStats stats() const override { return series_.stats(); }

private:
    Alert alert_of(const BeaconFinding& finding, const PassiveDns& context) const;

    BeaconSeries series_;
    std::unordered_set<std::uint16_t> allow_ports_;
};

}  // namespace flowguard::analyzer
