#include <flowguard/core/alert.hpp>
#include <flowguard/core/time_format.hpp>
#include <flowguard/core/utf8.hpp>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <cmath>

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

std::string_view alert_status_name(AlertStatus status) noexcept {
    return status == AlertStatus::updated ? "updated" : "open";
}

boost::json::object to_json(const Alert& a) {
    boost::json::array techniques;
    for (const auto& t : a.techniques) techniques.emplace_back(t);
    boost::json::object out;
    out["id"] = a.id;
    out["kind"] = a.kind;
    out["severity"] = std::string(severity_name(a.severity));
    out["status"] = std::string(alert_status_name(a.status));
    out["score"] = static_cast<double>(static_cast<long long>(a.score * 1000 + 0.5)) / 1000.0;
    out["src_addr"] = a.src_addr.to_string();
    out["dst_addr"] = a.dst_addr.empty() ? boost::json::value(nullptr) : boost::json::value(a.dst_addr.to_string());
    out["domain"] = a.domain.empty() ? boost::json::value(nullptr) : boost::json::value(a.domain);
    out["first_seen"] = format_iso8601_ns(a.first_seen_ns);
    out["last_seen"] = format_iso8601_ns(a.last_seen_ns);
    out["techniques"] = std::move(techniques);
    out["dedup_key"] = a.dedup_key;
    out["evidence"] = a.evidence;
    // Domains and evidence carry names from the wire: the alert log, webhooks and spool stay valid JSON.
    boost::json::value whole(std::move(out));
    make_valid_utf8(whole);
    return std::move(whole.get_object());
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
