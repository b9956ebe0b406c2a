#pragma once
// The one alert type every detector raises and every exporter (JSON lines, webhooks, metrics) consumes.
// Alerts are rare, so they carry their evidence as a JSON object a SOC analyst can read as-is.
#include <flowguard/core/ip_address.hpp>

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace flowguard {

enum class Severity : std::uint8_t { low, medium, high, critical };
std::string_view severity_name(Severity severity) noexcept;

// A finding's alerts: the first one opens it; an update (same dedup key and id) carries what was learned
// later, e.g. a SUNBURST victim domain completed by a fragment that arrived after the last one.
enum class AlertStatus : std::uint8_t { open, updated };
std::string_view alert_status_name(AlertStatus status) noexcept;

struct Alert {
    std::string id;    // unique per alert: dedup key + first-seen time
    std::string kind;  // beacon, dns_beacon, sunburst_dns, ioc_domain, ioc_address, dga_domain, ...
    Severity severity = Severity::medium;
    AlertStatus status = AlertStatus::open;
    double score = 0;                 // 0..1
    IpAddress src_addr;               // the internal host (client) the alert is about
    IpAddress dst_addr;               // the peer, when one address is involved
    std::string domain;               // registered domain or name, when known
    std::uint64_t first_seen_ns = 0;  // event time (the records' own timestamps)
    std::uint64_t last_seen_ns = 0;
    std::vector<std::string> techniques;  // MITRE ATT&CK ids, e.g. T1071.004
    std::string dedup_key;                // stable across runs and restarts for the same finding
    boost::json::object evidence;
};

boost::json::object to_json(const Alert& alert);
// One JSON line (with the newline). Numbers print as people write them (0.987, not Boost.JSON's 9.87E-1).
std::string to_json_line(const Alert& alert);
std::string serialize_readable(const boost::json::value& value);

}  // namespace flowguard
