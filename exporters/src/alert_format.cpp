#include <flowguard/core/time_format.hpp>
#include <flowguard/core/utf8.hpp>
#include <flowguard/exporters/alert_format.hpp>

#include <boost/json/array.hpp>

#include <algorithm>

namespace flowguard::exporters {
namespace {

namespace json = boost::json;

json::object endpoint(const IpAddress& address, std::uint16_t port) {
    json::object o;
    if (!address.empty()) o["ip"] = address.to_string();
    if (port != 0) o["port"] = port;
    return o;
}

// ATT&CK ids: techniques in threat.technique.id, sub-techniques (T1071.004) in threat.technique.subtechnique.id.
json::object threat_of(const Alert& a) {
    json::array techniques;
    json::array subtechniques;
    for (const auto& t : a.techniques) {
        const auto dot = t.find('.');
        const std::string base = t.substr(0, dot);
        if (std::find(techniques.begin(), techniques.end(), json::value(base)) == techniques.end())
            techniques.emplace_back(base);
        if (dot != std::string::npos) subtechniques.emplace_back(t);
    }
    json::object technique{{"id", std::move(techniques)}};
    if (!subtechniques.empty()) technique["subtechnique"] = json::object{{"id", std::move(subtechniques)}};
    return {{"framework", "MITRE ATT&CK"}, {"technique", std::move(technique)}};
}

json::object observer_of(const Alert& a) {
    json::object o{{"vendor", "flowguard"}, {"product", "flowguard"}, {"type", "ids"}};
    if (!a.sensor.empty()) {
        o["name"] = a.sensor;
        o["hostname"] = a.sensor;
    }
    if (!a.exporter.empty()) o["ip"] = json::array{json::value(a.exporter.to_string())};
    if (a.input_interface != 0)
        o["ingress"] = json::object{{"interface", json::object{{"id", std::to_string(a.input_interface)}}}};
    return o;
}

}  // namespace

json::object to_ecs(const Alert& a) {
    const AlertRule rule = alert_rule(a.kind);
    json::object ecs;
    ecs["@timestamp"] = format_iso8601_ms(a.raised_ns ? a.raised_ns : a.last_seen_ns);
    ecs["ecs"] = json::object{{"version", "8.11.0"}};
    json::object event{{"kind", "alert"},
                       {"category", json::array{"network", "intrusion_detection"}},
                       {"type", json::array{"info", "connection"}},
                       {"action", alert_status_name(a.status)},
                       {"id", a.id},
                       {"module", "flowguard"},
                       {"dataset", "flowguard.alerts"},
                       {"severity", severity_number(a.severity)},
                       {"risk_score", static_cast<double>(score_thousandths(a.score)) / 10.0},
                       {"start", format_iso8601_ms(a.first_seen_ns)},
                       {"end", format_iso8601_ms(a.last_seen_ns)}};
    if (a.raised_ns) event["created"] = format_iso8601_ms(a.raised_ns);
    ecs["event"] = std::move(event);
    ecs["rule"] = json::object{{"id", a.kind},
                               {"name", rule.name},
                               {"version", rule.version},
                               {"ruleset", "flowguard"},
                               {"description", rule.description}};
    ecs["source"] = endpoint(a.src_addr, a.src_port);
    json::object destination = endpoint(a.dst_addr, a.dst_port);
    if (!a.query_name.empty() || !a.domain.empty())
        destination["domain"] = a.query_name.empty() ? a.domain : a.query_name;
    if (!a.domain.empty()) destination["registered_domain"] = a.domain;
    ecs["destination"] = std::move(destination);
    if (a.proto != 0)
        ecs["network"] = json::object{{"transport", protocol_name(a.proto)}, {"iana_number", std::to_string(a.proto)}};
    if (!a.query_name.empty())
        ecs["dns"] = json::object{{"question", json::object{{"name", a.query_name}, {"registered_domain", a.domain}}}};
    ecs["threat"] = threat_of(a);
    ecs["observer"] = observer_of(a);
    ecs["related"] = json::object{{"ip", [&] {
                                       json::array ips{json::value(a.src_addr.to_string())};
                                       if (!a.dst_addr.empty()) ips.emplace_back(a.dst_addr.to_string());
                                       return ips;
                                   }()}};
    // What ECS has no field for: flowguard's own namespace (ECS custom fields).
    json::object own{{"kind", a.kind},
                     {"status", alert_status_name(a.status)},
                     {"dedup_key", a.dedup_key},
                     {"score", static_cast<double>(score_thousandths(a.score)) / 1000.0},
                     {"evidence", a.evidence}};
    if (a.resolved_ns) own["resolved"] = format_iso8601_ms(a.resolved_ns);
    ecs["flowguard"] = std::move(own);
    json::value whole(std::move(ecs));
    make_valid_utf8(whole);
    return std::move(whole.get_object());
}

std::string render_alert(const Alert& alert, std::string_view format) {
    if (format == "ecs") return serialize_readable(to_ecs(alert));
    auto line = to_json_line(alert);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    return line;
}

}  // namespace flowguard::exporters
