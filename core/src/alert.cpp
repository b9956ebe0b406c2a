#include <flowguard/core/alert.hpp>
#include <flowguard/core/time_format.hpp>
#include <flowguard/core/utf8.hpp>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace flowguard {

std::string_view severity_name(Severity severity) noexcept {
    switch (severity) {
        case Severity::low:
            return "low";
        case Severity::medium:
            return "medium";
        case Severity::high:
            return "high";
        case Severity::critical:
            return "critical";
    }
    return "medium";
}

std::optional<Severity> severity_from_name(std::string_view name) noexcept {
    for (auto s : {Severity::low, Severity::medium, Severity::high, Severity::critical})
        if (severity_name(s) == name) return s;
    return std::nullopt;
}

std::string alert_id(std::string_view dedup_key, std::uint64_t first_seen_ns) {
    return fmt::format("{}@{}", dedup_key, first_seen_ns / 1'000'000'000ull);
}

long long score_thousandths(double score) noexcept {
    return static_cast<long long>(score * 1000 + 0.5);
}

int severity_number(Severity severity) noexcept {
    constexpr int numbers[] = {21, 47, 73, 99};
    return numbers[static_cast<int>(severity) & 3];
}

namespace {

constexpr std::string_view kStatusNames[] = {"open", "updated", "ongoing", "resolved"};

struct KindRule {
    std::string_view kind;
    AlertRule rule;
};

// Versions move with the logic that decides what a kind reports (DETECTION.md tells each version's change).
constexpr KindRule kRules[] = {
    {"beacon", {"flowguard-beacon", "6", "Periodic connections from an internal host to an external destination"}},
    {"dns_beacon", {"flowguard-dns-beacon", "5", "Periodic DNS queries of one client for one domain"}},
    {"long_connection", {"flowguard-long-connection", "1", "Hours-long session to a rarely used external host"}},
    {"sunburst_dns", {"flowguard-sunburst-dns", "3", "SUNBURST DGA subdomain of avsvmcloud.com (decoded)"}},
    {"ioc_domain", {"flowguard-ioc-domain", "2", "Query or answer naming a listed indicator domain"}},
    {"ioc_address", {"flowguard-ioc-address", "1", "Traffic with a listed indicator address"}},
    {"dga_domain", {"flowguard-dga", "2", "Algorithmically generated names under one domain"}},
    {"lateral_new_edge", {"flowguard-lateral-new-edge", "1", "First administrative connection between two hosts"}},
    {"lateral_fanout", {"flowguard-lateral-fanout", "1", "One host reaching many hosts' administrative services"}},
    {"lateral_directory", {"flowguard-lateral-directory", "1", "Directory-service access from an unusual host"}},
    {"lateral_watched", {"flowguard-lateral-watched", "1", "Administrative connection into a watched segment"}},
    {"lateral_chain", {"flowguard-lateral-chain", "1", "Chain of new administrative hops across hosts"}},
    {"lateral_dcsync", {"flowguard-lateral-dcsync", "1", "Directory replication from a host that is not a DC"}},
};

}  // namespace

std::string_view alert_status_name(AlertStatus status) noexcept {
    return kStatusNames[static_cast<int>(status) & 3];
}

std::optional<AlertStatus> alert_status_from_name(std::string_view name) noexcept {
    for (int i = 0; i < 4; ++i)
        if (kStatusNames[i] == name) return static_cast<AlertStatus>(i);
    return std::nullopt;
}

AlertRule alert_rule(std::string_view kind) noexcept {
    for (const auto& r : kRules)
        if (r.kind == kind) return r.rule;
    return {"flowguard-other", "1", "flowguard detection"};
}

boost::json::object to_json(const Alert& a) {
    boost::json::array techniques;
    for (const auto& t : a.techniques) techniques.emplace_back(t);
    boost::json::object out;
    out["id"] = a.id;
    out["kind"] = a.kind;
    out["severity"] = std::string(severity_name(a.severity));
    out["status"] = std::string(alert_status_name(a.status));
    out["severity_number"] = severity_number(a.severity);
    out["score"] = static_cast<double>(score_thousandths(a.score)) / 1000.0;
    const AlertRule rule = alert_rule(a.kind);
    out["rule"] = boost::json::object{{"name", rule.name}, {"version", rule.version}};
    out["src_addr"] = a.src_addr.to_string();
    out["dst_addr"] = a.dst_addr.empty() ? boost::json::value(nullptr) : boost::json::value(a.dst_addr.to_string());
    out["src_port"] = a.src_port ? boost::json::value(a.src_port) : boost::json::value(nullptr);
    out["dst_port"] = a.dst_port ? boost::json::value(a.dst_port) : boost::json::value(nullptr);
    out["proto"] = a.proto ? boost::json::value(protocol_name(a.proto)) : boost::json::value(nullptr);
    out["domain"] = a.domain.empty() ? boost::json::value(nullptr) : boost::json::value(a.domain);
    out["query_name"] = a.query_name.empty() ? boost::json::value(nullptr) : boost::json::value(a.query_name);
    out["first_seen"] = format_iso8601_ms(a.first_seen_ns);
    out["last_seen"] = format_iso8601_ms(a.last_seen_ns);
    out["raised"] = a.raised_ns ? boost::json::value(format_iso8601_ms(a.raised_ns)) : boost::json::value(nullptr);
    out["resolved"] =
        a.resolved_ns ? boost::json::value(format_iso8601_ms(a.resolved_ns)) : boost::json::value(nullptr);
    boost::json::object observer;
    observer["sensor"] = a.sensor.empty() ? boost::json::value(nullptr) : boost::json::value(a.sensor);
    observer["exporter"] =
        a.exporter.empty() ? boost::json::value(nullptr) : boost::json::value(a.exporter.to_string());
    observer["input_interface"] =
        a.input_interface ? boost::json::value(a.input_interface) : boost::json::value(nullptr);
    out["observer"] = std::move(observer);
    out["techniques"] = std::move(techniques);
    out["dedup_key"] = a.dedup_key;
    out["evidence"] = a.evidence;
    // Domains and evidence carry names from the wire: the alert log, webhooks and spool stay valid JSON.
    boost::json::value whole(std::move(out));
    make_valid_utf8(whole);
    return std::move(whole.get_object());
}

namespace {

constexpr std::pair<std::string_view, std::uint8_t> kProtocolNames[] = {
    {"icmp", 1}, {"tcp", 6}, {"udp", 17}, {"ipv6-icmp", 58}, {"sctp", 132}};

const boost::json::value* field(const boost::json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v == nullptr || v->is_null() ? nullptr : v;
}

std::string text_field(const boost::json::object& o, std::string_view key) {
    const auto* v = field(o, key);
    if (v == nullptr) return {};
    if (!v->is_string()) throw std::invalid_argument(fmt::format("alert field '{}' is not a string", key));
    return std::string(v->get_string());
}

std::uint64_t number_field(const boost::json::object& o, std::string_view key, std::uint64_t max) {
    const auto* v = field(o, key);
    if (v == nullptr) return 0;
    if (!v->is_int64() && !v->is_uint64())
        throw std::invalid_argument(fmt::format("alert field '{}' is not an integer", key));
    const auto n = v->to_number<std::int64_t>();
    if (n < 0 || static_cast<std::uint64_t>(n) > max)
        throw std::invalid_argument(fmt::format("alert field '{}' is out of range", key));
    return static_cast<std::uint64_t>(n);
}

IpAddress address_field(const boost::json::object& o, std::string_view key) {
    const auto text = text_field(o, key);
    if (text.empty()) return {};
    const auto address = IpAddress::parse(text);
    if (!address) throw std::invalid_argument(fmt::format("alert field '{}' is not an address", key));
    return *address;
}

std::uint64_t time_field(const boost::json::object& o, std::string_view key) {
    const auto text = text_field(o, key);
    if (text.empty()) return 0;
    const auto ns = parse_iso8601_ns(text);
    if (!ns) throw std::invalid_argument(fmt::format("alert field '{}' is not an ISO 8601 UTC time", key));
    return *ns;
}

}  // namespace

std::string protocol_name(std::uint8_t proto) {
    for (const auto& [name, number] : kProtocolNames)
        if (number == proto) return std::string(name);
    return std::to_string(proto);
}

std::optional<std::uint8_t> protocol_from_name(std::string_view name) noexcept {
    for (const auto& [text, number] : kProtocolNames)
        if (text == name) return number;
    unsigned value = 0;
    const auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), value);
    if (ec != std::errc{} || ptr != name.data() + name.size() || value > 255) return std::nullopt;
    return static_cast<std::uint8_t>(value);
}

Alert alert_from_json(const boost::json::object& o) {
    Alert a;
    a.id = text_field(o, "id");
    a.kind = text_field(o, "kind");
    a.dedup_key = text_field(o, "dedup_key");
    if (a.kind.empty() || a.dedup_key.empty()) throw std::invalid_argument("an alert needs a kind and a dedup_key");
    const auto severity = text_field(o, "severity");
    const auto known_severity = severity_from_name(severity);
    if (!known_severity) throw std::invalid_argument(fmt::format("alert severity '{}' is unknown", severity));
    a.severity = *known_severity;
    const auto status = alert_status_from_name(text_field(o, "status"));
    if (!status) throw std::invalid_argument("alert status is unknown");
    a.status = *status;
    if (const auto* score = field(o, "score")) a.score = score->to_number<double>();
    a.src_addr = address_field(o, "src_addr");
    a.dst_addr = address_field(o, "dst_addr");
    a.src_port = static_cast<std::uint16_t>(number_field(o, "src_port", 65535));
    a.dst_port = static_cast<std::uint16_t>(number_field(o, "dst_port", 65535));
    if (const auto proto = text_field(o, "proto"); !proto.empty()) {
        const auto number = protocol_from_name(proto);
        if (!number) throw std::invalid_argument(fmt::format("alert protocol '{}' is unknown", proto));
        a.proto = *number;
    }
    a.domain = text_field(o, "domain");
    a.query_name = text_field(o, "query_name");
    a.first_seen_ns = time_field(o, "first_seen");
    a.last_seen_ns = time_field(o, "last_seen");
    a.raised_ns = time_field(o, "raised");
    a.resolved_ns = time_field(o, "resolved");
    if (const auto* observer = field(o, "observer"); observer != nullptr && observer->is_object()) {
        const auto& ob = observer->get_object();
        a.sensor = text_field(ob, "sensor");
        a.exporter = address_field(ob, "exporter");
        a.input_interface = static_cast<std::uint32_t>(number_field(ob, "input_interface", 0xffffffffu));
    }
    if (const auto* techniques = field(o, "techniques"); techniques != nullptr && techniques->is_array())
        for (const auto& t : techniques->get_array())
            if (t.is_string()) a.techniques.emplace_back(t.get_string());
    if (const auto* evidence = field(o, "evidence"); evidence != nullptr && evidence->is_object())
        a.evidence = evidence->get_object();
    return a;
}

std::string serialize_readable(const boost::json::value& value) {
    switch (value.kind()) {
        case boost::json::kind::double_: {
            const double d = value.get_double();
            if (!std::isfinite(d)) return "null";
            return fmt::format("{}", d);
        }
        case boost::json::kind::array: {
            std::string out = "[";
            for (const auto& item : value.get_array()) {
                if (out.size() > 1) out += ',';
                out += serialize_readable(item);
            }
            return out + "]";
        }
        case boost::json::kind::object: {
            std::string out = "{";
            for (const auto& [key, item] : value.get_object()) {
                if (out.size() > 1) out += ',';
                out += boost::json::serialize(boost::json::value(boost::json::string(key)));
                out += ':';
                out += serialize_readable(item);
            }
            return out + "}";
        }
        default:
            return boost::json::serialize(value);
    }
}

std::string to_json_line(const Alert& alert) {
    return serialize_readable(to_json(alert)) + "\n";
}

}  // namespace flowguard
