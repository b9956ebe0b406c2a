#pragma once
// The one alert type every detector raises and every exporter (JSON lines, webhooks, metrics) consumes.
// Alerts are rare, so they carry their evidence as a JSON object a SOC analyst can read as-is.
#include <flowguard/core/ip_address.hpp>

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flowguard {

enum class Severity : std::uint8_t { low, medium, high, critical };
std::string_view severity_name(Severity severity) noexcept;
std::optional<Severity> severity_from_name(std::string_view name) noexcept;
// The numeric severity SIEMs sort on (Elastic's detection-rule scale): low 21, medium 47, high 73, critical 99.
int severity_number(Severity severity) noexcept;

// A finding's life: the first alert opens it; an update (same dedup key and id) carries what was learned
// later (a SUNBURST victim domain completed by a late fragment, a second series of the same client and
// destination); `ongoing` says the behaviour goes on (detectors send it at most every few minutes; the
// finding ledger keeps it from the alert log and passes it only to Alertmanager, which needs re-assertion);
// `resolved` closes the finding after a quiet period (exporters/finding_ledger.hpp).
enum class AlertStatus : std::uint8_t { open, updated, ongoing, resolved };
std::string_view alert_status_name(AlertStatus status) noexcept;
std::optional<AlertStatus> alert_status_from_name(std::string_view name) noexcept;

// The rule behind an alert kind, as SOC tooling names it (ECS rule.name / rule.version). The version moves
// when the detector's logic changes what it reports.
struct AlertRule {
    std::string_view name;
    std::string_view version;
    std::string_view description;
};
AlertRule alert_rule(std::string_view kind) noexcept;

struct Alert {
    std::string id;    // unique per alert: dedup key + first-seen time
    std::string kind;  // beacon, dns_beacon, sunburst_dns, ioc_domain, ioc_address, dga_domain, ...
    Severity severity = Severity::medium;
    AlertStatus status = AlertStatus::open;
    double score = 0;                 // 0..1
    IpAddress src_addr;               // the internal host (client) the alert is about
    IpAddress dst_addr;               // the peer, when one address is involved
    std::string domain;               // registered domain, when known
    std::string query_name;           // the full name queried (DNS findings), when one name is involved
    std::uint16_t src_port = 0;       // the client's port, when one connection is involved
    std::uint16_t dst_port = 0;       // the service port, when one is involved
    std::uint8_t proto = 0;           // IANA protocol number, when one is involved
    std::uint64_t first_seen_ns = 0;  // event time (the records' own timestamps)
    std::uint64_t last_seen_ns = 0;
    std::uint64_t raised_ns = 0;    // wall clock: when flowguard first reported the finding (set by the ledger)
    std::uint64_t resolved_ns = 0;  // resolved alerts: when the quiet period ended it (the ledger's clock)
    // Not rendered: an active finding is resolved by then unless heard of again (Alertmanager's endsAt).
    std::uint64_t expires_ns = 0;
    // Which sensor saw it: the host flowguard runs on (set by the ledger), the exporter (flow records'
    // sampler address) and its input interface, when one record raised the alert.
    std::string sensor;
    IpAddress exporter;
    std::uint32_t input_interface = 0;
    std::vector<std::string> techniques;  // MITRE ATT&CK ids, e.g. T1071.004
    std::string dedup_key;                // stable across runs and restarts for the same finding
    boost::json::object evidence;
};

// A finding's id, the same for every alert of it: "<dedup key>@<first-seen unix seconds>".
std::string alert_id(std::string_view dedup_key, std::uint64_t first_seen_ns);
// The score in thousandths, rounded (what every rendering prints: 0.998, risk score 99.8).
long long score_thousandths(double score) noexcept;

// The alert as flowguard's own JSON schema has it (docs/ALERTS.md); timestamps all in milliseconds.
boost::json::object to_json(const Alert& alert);
// The inverse of to_json (the ledger's state file); throws std::invalid_argument naming the field it refused.
Alert alert_from_json(const boost::json::object& object);
// "tcp", "udp", "icmp", "ipv6-icmp", "sctp", else the number as text (ECS network.transport); and back.
std::string protocol_name(std::uint8_t proto);
std::optional<std::uint8_t> protocol_from_name(std::string_view name) noexcept;
// One JSON line (with the newline). Numbers print as people write them (0.987, not Boost.JSON's 9.87E-1).
std::string to_json_line(const Alert& alert);
std::string serialize_readable(const boost::json::value& value);

}  // namespace flowguard
