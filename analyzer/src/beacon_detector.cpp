#include <flowguard/analyzer/beacon_detector.hpp>
#include <flowguard/analyzer/lists.hpp>

#include <fmt/format.h>

namespace flowguard::analyzer {
namespace {

enum SeriesKind : std::uint8_t { kByAddress = 0, kByName = 1 };

// sFlow records are single sampled packets, not flows: the packets of one connection arrive as a burst, and a
// burst within this counts as one event (one connection) of the series.
constexpr std::uint64_t kSampleBurstNs = 2'000'000'000;

}  // namespace

BeaconDetector::BeaconDetector(const BeaconConfig& config)
    : series_(config, true), allow_ports_(config.allow_ports.begin(), config.allow_ports.end()) {}

void BeaconDetector::reload(const AnalyzerLists& lists) {
    allow_ports_.clear();
    allow_ports_.insert(lists.allow_ports.begin(), lists.allow_ports.end());
}

void BeaconDetector::on_flows(const FlowBatchView& batch, AlertOut& out) {
    const PassiveDns& context = batch.context;
    for (std::uint32_t i = 0; i < batch.records.size(); ++i) {
        const FlowRecord& flow = batch.records[i];
        // Beacons are outbound: an internal client calling an external peer. One-way records of the answers
        // (external source) and internal-only traffic (lateral movement's business) are not scored here.
        if (!context.internal(flow.src_addr) || context.internal(flow.dst_addr) || flow.dst_addr.empty()) continue;
        if (flow.proto != 6 && flow.proto != 17) continue;
        if (flow.dst_port == 53 || allow_ports_.count(flow.dst_port) || allow_ports_.count(flow.src_port)) continue;
        if (flow.src_port != 0 && flow.src_port < 1024 && flow.dst_port >= 1024) continue;  // a server's answer
        const std::uint64_t time = flow.time_flow_start_ns;
        const std::uint32_t name_id = context.resolved_name(flow.src_addr, flow.dst_addr, time);
        if (name_id && context.allowed_domain(name_id)) continue;
        const std::uint64_t repeat = flow.type == FlowType::sflow5 ? kSampleBurstNs : 0;
        if (auto f =
                series_.record({flow.src_addr, flow.dst_addr, 0, kByAddress, flow.dst_port}, time, flow.bytes, repeat))
            out.raise(alert_of(*f, context), i);
        if (name_id == 0) continue;
        if (auto f =
                series_.record({flow.src_addr, IpAddress{}, name_id, kByName, flow.dst_port}, time, flow.bytes, repeat))
            out.raise(alert_of(*f, context), i);
    }
}

void BeaconDetector::finish(const PassiveDns& context, AlertOut& out) {
    for (const auto& finding : series_.finish()) out.raise(alert_of(finding, context), AlertOut::kAtEnd);
}

Alert BeaconDetector::alert_of(const BeaconFinding& f, const PassiveDns& context) const {
    Alert alert = beacon_alert("beacon", f);
    alert.evidence["dst_port"] = f.key.port;
    const std::string client = f.key.client.to_string();
    const auto port = f.key.port;
    if (f.key.kind == kByAddress) {
        alert.dst_addr = f.key.peer;
        alert.techniques = {port == 80 || port == 443 || port == 8080 ? "T1071.001" : "T1071", "T1573"};
        alert.dedup_key = fmt::format("beacon:{}:{}:{}", client, f.key.peer.to_string(), port);
    } else {
        alert.domain = context.domain(f.key.domain);
        alert.evidence["grouped_by"] = "resolved name (passive DNS), all addresses";
        alert.techniques = {port == 80 || port == 443 ? "T1071.001" : "T1071", "T1573"};
        alert.dedup_key = fmt::format("beacon-name:{}:{}:{}", client, alert.domain, port);
    }
    return alert;
}

}  // namespace flowguard::analyzer
