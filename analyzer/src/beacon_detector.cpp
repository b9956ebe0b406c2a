#include <flowguard/analyzer/beacon_detector.hpp>
#include <flowguard/analyzer/lists.hpp>

#include <fmt/format.h>

namespace flowguard::analyzer {
namespace {

enum SeriesKind : std::uint8_t { kByAddress = 0, kByName = 1 };

constexpr std::uint8_t kTcpFin = 0x01;
constexpr std::uint8_t kTcpSyn = 0x02;
constexpr std::uint8_t kTcpRst = 0x04;
// Sessions count towards a destination's long-session popularity once they last this long, and again hourly.
constexpr std::uint64_t kLongSessionNoteNs = 600 * kSecondNs;
constexpr std::uint64_t kLongSessionRenoteNs = 3600 * kSecondNs;
constexpr std::uint64_t kDayNs = 86'400 * kSecondNs;

// sFlow records are single sampled packets, not flows: the packets of one connection arrive as a burst, and a
// burst within this counts as one event (one connection) of the series.
constexpr std::uint64_t kSampleBurstNs = 2'000'000'000;

// The exporter and interface of the record that raised the alert (ECS observer).
// The record's protocol too: a series is keyed by port, and its records' protocol is the one that raised it.
Alert observed(Alert alert, const IpAddress& exporter, std::uint32_t input_interface, std::uint8_t proto) {
    alert.exporter = exporter;
    alert.input_interface = input_interface;
    if (alert.proto == 0) alert.proto = proto;
    return alert;
}

Alert observed(Alert alert, const FlowRecord& flow) {
    return observed(std::move(alert), flow.sampler_address, flow.in_if, flow.proto);
}

Alert observed(Alert alert, const RelayedStart& start) {
    return observed(std::move(alert), start.exporter, start.input_interface, start.proto);
}

}  // namespace

BeaconDetector::BeaconDetector(const BeaconConfig& config)
    : config_(config),
      series_(config, true),
      connections_(config.connection_timeout_ns, config.max_connections),
      activity_(config.max_series),
      long_sessions_(kDayNs, config.max_series),
      relays_(config.relay),
      allow_ports_(config.allow_ports.begin(), config.allow_ports.end()) {
    series_.use_activity(&activity_);
    series_.use_relays(&relays_);
}

DetectorStats BeaconDetector::stats() const {
    DetectorStats s = series_.stats();
    s.suppressed_popular += suppressed_long_;
    return s;
}

void BeaconDetector::write_metrics(MetricSink& sink) const {
    const ConnectionCounters counters{connections_.size(), connections_.evictions(), records_continuing_};
    flowguard::write_metrics(sink, counters, kConnectionCounters);
    flowguard::write_metrics(sink, series_.hold_counters(), kHoldCounters, {name()});
    flowguard::write_metrics(sink, relays_.counters(), kRelayCounters);
    const RelaySuppression suppression{series_.suppressed_relay()};
    flowguard::write_metrics(sink, suppression, kRelaySuppression);
}

void BeaconDetector::reload(const AnalyzerLists& lists) {
    allow_ports_.clear();
    allow_ports_.insert(lists.allow_ports.begin(), lists.allow_ports.end());
}

void BeaconDetector::on_flows(const FlowBatchView& batch, AlertOut& out) {
    const PassiveDns& context = batch.context;
    for (std::uint32_t i = 0; i < batch.records.size(); ++i) {
        const FlowRecord& flow = batch.records[i];
        // Beacons are outbound: an internal client calling an external peer. One-way records of the answers
        // (external source) are not scored; internal-only traffic is lateral movement's business, and here
        // only tells clients' connections to relays.
        if (!context.internal(flow.src_addr) || flow.dst_addr.empty()) continue;
        if (context.internal(flow.dst_addr)) {
            internal_record(flow);
            continue;
        }
        activity_.note(flow.src_addr, flow.time_flow_start_ns);
        if (series_.release_due(flow.time_flow_start_ns))
            for (const auto& f : series_.release(flow.time_flow_start_ns)) out.raise(alert_of(f, context), i);
        if (relays_.decide_due(flow.time_flow_start_ns)) decide_relayed(flow.time_flow_start_ns, i, context, out);
        if (flow.proto != 6 && flow.proto != 17) continue;
        if (flow.dst_port == 53 || allow_ports_.count(flow.dst_port) || allow_ports_.count(flow.src_port)) continue;
        if (flow.src_port != 0 && flow.src_port < 1024 && flow.dst_port >= 1024) continue;  // a server's answer
        const std::uint64_t time = flow.time_flow_start_ns;
        const std::uint32_t name_id = context.resolved_name(flow.src_addr, flow.dst_addr, time);
        if (name_id && context.allowed_domain(name_id)) continue;
        const ConnectionKey connection{flow.src_addr, flow.dst_addr, flow.src_port, flow.dst_port, flow.proto};
        const bool syn = flow.proto == 6 && (flow.tcp_flags & kTcpSyn) != 0;
        // A flow record's FIN or RST ends its connection; a sampled packet's ends nothing (its ACKs follow).
        const bool ended =
            flow.proto == 6 && flow.type != FlowType::sflow5 && (flow.tcp_flags & (kTcpFin | kTcpRst)) != 0;
        const auto seen = connections_.observe(connection, time, flow.time_flow_end_ns, flow.bytes, syn, ended);
        if (name_id) seen.connection->domain = name_id;
        if (!seen.starts) {
            ++records_continuing_;
            if (auto alert = long_connection(connection, *seen.connection, context))
                out.raise(observed(std::move(*alert), flow), i);
            continue;
        }
        relays_.outbound_destination(flow.src_addr, flow.dst_addr, time);
        const RelayedStart start{flow.src_addr, {},      flow.dst_addr, flow.sampler_address, time,
                                 flow.bytes,    name_id, flow.in_if,    flow.dst_port,        flow.proto};
        if (relays_.proxies(flow.src_addr)) {  // scored once attributed (or not) to a client
            relays_.upstream(start);
            continue;
        }
        score_start(start, flow.type == FlowType::sflow5 ? kSampleBurstNs : 0, i, context, out);
    }
}

void BeaconDetector::internal_record(const FlowRecord& flow) {
    if (flow.proto != 6 && flow.proto != 17) return;
    // A record with flags and no SYN continues a connection (keep-alives, timeout splits): not a new one.
    if (flow.proto == 6 && flow.tcp_flags != 0 && (flow.tcp_flags & kTcpSyn) == 0) return;
    // The service side has the lower port, the client an unprivileged one (either record direction).
    if (flow.dst_port < flow.src_port && flow.src_port >= 1024)
        relays_.internal_connection(flow.src_addr, flow.src_port, flow.dst_addr, flow.dst_port,
                                    flow.time_flow_start_ns);
    else if (flow.src_port < flow.dst_port && flow.dst_port >= 1024)
        relays_.internal_connection(flow.dst_addr, flow.dst_port, flow.src_addr, flow.src_port,
                                    flow.time_flow_start_ns);
}

void BeaconDetector::score_start(const RelayedStart& start, std::uint64_t repeat_ns, std::uint32_t index,
                                 const PassiveDns& context, AlertOut& out) {
    const bool relayed = !start.client.empty();
    const IpAddress& client = relayed ? start.client : start.relay;
    if (relayed) activity_.note(client, start.time_ns);
    const SeriesKey by_name{client, IpAddress{}, start.name_id, kByName, start.port};
    const SeriesKey by_address{client, start.server, 0, kByAddress, start.port};
    const IpAddress* via = relayed ? &start.relay : nullptr;
    if (auto f =
            series_.record(by_address, start.time_ns, start.bytes, repeat_ns, start.name_id ? &by_name : nullptr, via))
        out.raise(observed(alert_of(*f, context), start), index);
    if (start.name_id == 0) return;
    if (auto f = series_.record(by_name, start.time_ns, start.bytes, repeat_ns, nullptr, via))
        out.raise(observed(alert_of(*f, context), start), index);
}

void BeaconDetector::decide_relayed(std::uint64_t now_ns, std::uint32_t index, const PassiveDns& context,
                                    AlertOut& out) {
    decided_.clear();
    relays_.decide(now_ns, decided_);
    for (const auto& start : decided_) score_start(start, 0, index, context, out);
}

std::optional<Alert> BeaconDetector::long_connection(const ConnectionKey& key, Connection& c,
                                                     const PassiveDns& context) {
    if (config_.long_connection_ns == 0) return std::nullopt;
    const std::uint64_t duration = c.last_ns - c.start_ns;
    if (c.reported) {  // the session goes on: `ongoing` now and then (noted_ns: when it was last said)
        if (c.last_ns < c.noted_ns + AlertOut::kOngoingNs) return std::nullopt;
        c.noted_ns = c.last_ns;
        Alert ongoing = long_connection_alert(key, c, duration, 0, context);
        ongoing.status = AlertStatus::ongoing;
        return ongoing;
    }
    if (duration < kLongSessionNoteNs) return std::nullopt;
    const DestinationKey by_address{key.server, 0, key.server_port, kByAddress};
    const DestinationKey by_name{IpAddress{}, c.domain, key.server_port, kByName};
    if (c.noted_ns == 0 || c.last_ns >= c.noted_ns + kLongSessionRenoteNs) {
        long_sessions_.note(by_address, key.client, c.last_ns);
        if (c.domain) long_sessions_.note(by_name, key.client, c.last_ns);
        c.noted_ns = c.last_ns;
    }
    if (duration < config_.long_connection_ns) return std::nullopt;
    c.reported = true;
    const std::size_t by_address_clients = long_sessions_.clients(by_address, c.last_ns);
    const std::size_t by_name_clients = c.domain ? long_sessions_.clients(by_name, c.last_ns) : 0;
    if (std::max(by_address_clients, by_name_clients) >= config_.max_clients_per_target) {
        ++suppressed_long_;
        return std::nullopt;
    }
    c.noted_ns = c.last_ns;
    return long_connection_alert(key, c, duration, std::max(by_address_clients, by_name_clients), context);
}

Alert BeaconDetector::long_connection_alert(const ConnectionKey& key, const Connection& c, std::uint64_t duration,
                                            std::size_t clients, const PassiveDns& context) const {
    Alert alert;
    alert.kind = "long_connection";
    alert.severity = Severity::medium;
    // 0.7 at the threshold, towards 1 as the session outlasts it three times over.
    const double ratio = static_cast<double>(duration) / static_cast<double>(config_.long_connection_ns);
    alert.score = std::min(1.0, 0.7 + 0.15 * (ratio - 1.0));
    alert.src_addr = key.client;
    alert.dst_addr = key.server;
    alert.src_port = key.client_port;
    alert.dst_port = key.server_port;
    alert.proto = key.proto;
    if (c.domain) alert.domain = context.domain(c.domain);
    alert.first_seen_ns = c.start_ns;
    alert.last_seen_ns = c.last_ns;
    alert.techniques = {"T1071", "T1573"};
    alert.dedup_key =
        fmt::format("long-connection:{}:{}:{}", key.client.to_string(), key.server.to_string(), key.server_port);
    auto& e = alert.evidence;
    e["duration_s"] = duration / kSecondNs;
    e["records"] = c.records;
    e["bytes"] = c.bytes;
    e["src_port"] = key.client_port;
    e["dst_port"] = key.server_port;
    e["proto"] = key.proto == 6 ? "TCP" : "UDP";
    e["clients_with_long_sessions"] = clients;
    return alert;
}

void BeaconDetector::finish(const PassiveDns& context, AlertOut& out) {
    decide_relayed(UINT64_MAX, AlertOut::kAtEnd, context, out);
    for (const auto& finding : series_.finish()) out.raise(alert_of(finding, context), AlertOut::kAtEnd);
}

// One finding per client and destination: the registered domain when the address has a name (the address
// series, the name series and the DNS series of the same C2 then share the key), the address otherwise.
Alert BeaconDetector::alert_of(const BeaconFinding& f, const PassiveDns& context) const {
    Alert alert = beacon_alert("beacon", f);
    alert.evidence["dst_port"] = f.key.port;
    alert.dst_port = f.key.port;
    const std::string client = f.key.client.to_string();
    const auto port = f.key.port;
    alert.techniques = {port == 80 || port == 443 || port == 8080 ? "T1071.001" : "T1071", "T1573"};
    if (f.key.kind == kByAddress) {
        alert.dst_addr = f.key.peer;
        if (f.alias_domain) alert.domain = context.domain(f.alias_domain);
        alert.dedup_key =
            fmt::format("beacon:{}:{}", client, alert.domain.empty() ? f.key.peer.to_string() : alert.domain);
    } else {
        alert.domain = context.domain(f.key.domain);
        alert.evidence["grouped_by"] = "resolved name (passive DNS), all addresses";
        alert.dedup_key = fmt::format("beacon:{}:{}", client, alert.domain);
    }
    if (f.continuing) alert.status = AlertStatus::ongoing;
    return alert;
}

}  // namespace flowguard::analyzer
