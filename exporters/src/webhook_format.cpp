// What each webhook kind receives: URL parsing, payloads, signature and headers.
#include <flowguard/core/time_format.hpp>
#include <flowguard/exporters/alert_format.hpp>
#include <flowguard/exporters/webhook.hpp>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <stdexcept>

namespace flowguard::exporters {
namespace {

namespace json = boost::json;

std::string one_line_summary(const Alert& a) {
    std::string peer = !a.domain.empty() ? a.domain : a.dst_addr.to_string();
    std::string techniques;
    for (const auto& t : a.techniques) techniques += fmt::format("{}{}", techniques.empty() ? "" : ", ", t);
    const std::string_view prefix = a.status == AlertStatus::resolved  ? "[RESOLVED] "
                                    : a.status == AlertStatus::updated ? "[UPDATED] "
                                                                       : "";
    return fmt::format("{}flowguard {} {}: {}{}{} (score {:.2f}{}{})", prefix, severity_name(a.severity), a.kind,
                       a.src_addr.to_string(), peer.empty() ? "" : " -> ", peer, a.score,
                       techniques.empty() ? "" : "; ATT&CK ", techniques);
}

// Chat and ticket fields have size limits; evidence is cut rather than the delivery refused.
std::string bounded(std::string text, std::size_t max) {
    if (text.size() > max) {
        text.resize(max);
        text += "...";
    }
    return text;
}

std::string pagerduty_severity(Severity s) {
    switch (s) {
        case Severity::critical:
            return "critical";
        case Severity::high:
            return "error";
        case Severity::medium:
            return "warning";
        case Severity::low:
            return "info";
    }
    return "warning";
}

// Alertmanager identifies an alert by its label set, so the labels are what stays fixed for a finding's life
// (an update may add a destination address or a domain: those are annotations). An active alert carries the
// time it expires unless re-asserted (endsAt); a resolved one, the time it was resolved.
json::object alertmanager_alert(const Alert& a) {
    json::object labels{{"alertname", "FlowguardDetection"},
                        {"kind", a.kind},
                        {"severity", severity_name(a.severity)},
                        {"src_addr", a.src_addr.to_string()},
                        {"dedup_key", a.dedup_key}};
    if (!a.sensor.empty()) labels["sensor"] = a.sensor;
    std::string techniques;
    for (const auto& t : a.techniques) techniques += fmt::format("{}{}", techniques.empty() ? "" : ",", t);
    json::object annotations{{"summary", one_line_summary(a)},
                             {"techniques", techniques},
                             {"alert_id", a.id},
                             {"status", alert_status_name(a.status)},
                             {"evidence", bounded(serialize_readable(a.evidence), 8000)}};
    if (!a.dst_addr.empty()) annotations["dst_addr"] = a.dst_addr.to_string();
    if (!a.domain.empty()) annotations["domain"] = a.domain;
    json::object alert{{"labels", std::move(labels)},
                       {"annotations", std::move(annotations)},
                       {"startsAt", format_iso8601_ms(a.first_seen_ns)}};
    if (a.status == AlertStatus::resolved && a.resolved_ns != 0) {
        alert["endsAt"] = format_iso8601_ms(a.resolved_ns);
    } else if (a.expires_ns != 0) {
        alert["endsAt"] = format_iso8601_ms(a.expires_ns);
    }
    return alert;
}

}  // namespace

namespace {

// RFC 3986: the scheme is case-insensitive ("HTTPS://" is https).
bool starts_with_scheme(std::string_view url, std::string_view scheme_and_slashes) {
    if (url.size() < scheme_and_slashes.size()) return false;
    for (std::size_t i = 0; i < scheme_and_slashes.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(url[i])) != scheme_and_slashes[i]) return false;
    return true;
}

// A registered name or an IPv4 address (RFC 3986 reg-name without percent-encoding), or an IPv6 literal.
bool valid_host(std::string_view host, bool bracketed) {
    return std::all_of(host.begin(), host.end(), [&](char c) {
        const auto u = static_cast<unsigned char>(c);
        if (bracketed) return std::isxdigit(u) || c == ':' || c == '.' || c == '%';
        return std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~';
    });
}

}  // namespace

WebhookUrl parse_webhook_url(std::string_view url) {
    WebhookUrl u;
    std::string_view rest;
    // Spaces and control characters would be sent as they are in the request line: refused, not encoded.
    if (std::any_of(url.begin(), url.end(), [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; }))
        throw std::invalid_argument(fmt::format("'{}' holds a space or a control character (percent-encode it)", url));
    if (starts_with_scheme(url, "https://")) {
        u.tls = true;
        rest = url.substr(8);
    } else if (starts_with_scheme(url, "http://")) {
        rest = url.substr(7);
    } else {
        throw std::invalid_argument(fmt::format("'{}' is not an http:// or https:// URL", url));
    }
    const auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    u.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    if (authority.find('@') != std::string_view::npos)
        throw std::invalid_argument("credentials in the URL are not supported (use headers: Authorization)");
    std::string_view host = authority;
    std::string_view port;
    if (authority.starts_with('[')) {  // [IPv6]:port
        const auto close = authority.find(']');
        if (close == std::string_view::npos) throw std::invalid_argument(fmt::format("'{}': unclosed '['", url));
        host = authority.substr(1, close - 1);
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':') throw std::invalid_argument(fmt::format("'{}': bad port", url));
            port = authority.substr(close + 2);
        }
    } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (host.empty()) throw std::invalid_argument(fmt::format("'{}' has no host", url));
    if (!valid_host(host, authority.starts_with('[')))
        throw std::invalid_argument(fmt::format("'{}': '{}' is not a host name or address", url, host));
    unsigned port_number = u.tls ? 443 : 80;
    if (!port.empty()) {
        auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
        if (ec != std::errc{} || ptr != port.data() + port.size() || port_number == 0 || port_number > 65535)
            throw std::invalid_argument(fmt::format("'{}': '{}' is not a port", url, port));
    }
    u.host = std::string(host);
    u.port = std::to_string(port_number);
    return u;
}

std::string webhook_path(const WebhookConfig& webhook) {
    auto path = parse_webhook_url(webhook.url).path;
    if (webhook.kind != "alertmanager") return path;
    while (!path.empty() && path.back() == '/') path.pop_back();
    return path + "/api/v2/alerts";  // the URL is Alertmanager's base, as in Prometheus' alerting config
}

std::string webhook_body(const WebhookConfig& webhook, const Alert& alert) {
    if (webhook.kind == "slack") {
        const auto text =
            fmt::format("{}\n```{}```", one_line_summary(alert), bounded(serialize_readable(alert.evidence), 3000));
        return json::serialize(json::object{{"text", text}});
    }
    if (webhook.kind == "pagerduty") {
        // Events API v2: a resolve needs only the routing key and the dedup key of the incident it closes.
        if (alert.status == AlertStatus::resolved)
            return json::serialize(json::object{{"routing_key", webhook.routing_key},
                                                {"event_action", "resolve"},
                                                {"dedup_key", alert.dedup_key.substr(0, 255)}});
        json::object details{{"alert", to_json(alert)}};
        json::object payload{{"summary", bounded(one_line_summary(alert), 1000)},
                             {"source", alert.src_addr.to_string()},
                             {"severity", pagerduty_severity(alert.severity)},
                             {"timestamp", format_iso8601_ms(alert.first_seen_ns)},
                             {"component", "flowguard"},
                             {"class", alert.kind},
                             {"custom_details", std::move(details)}};
        json::object event{{"routing_key", webhook.routing_key},
                           {"event_action", "trigger"},
                           {"dedup_key", alert.dedup_key.substr(0, 255)},
                           {"payload", std::move(payload)}};
        return json::serialize(event);
    }
    if (webhook.kind == "alertmanager") return json::serialize(json::array{alertmanager_alert(alert)});
    return render_alert(alert, webhook.format);  // generic: as the alert log has it, in the webhook's format
}

std::string webhook_signature(std::string_view secret, std::string_view timestamp, std::string_view body) {
    std::string message;
    message.reserve(timestamp.size() + 1 + body.size());
    message.append(timestamp).append(".").append(body);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
    std::string out = "sha256=";
    for (unsigned int i = 0; i < length; ++i) out += fmt::format("{:02x}", digest[i]);
    return out;
}

std::vector<std::pair<std::string, std::string>> webhook_headers(const WebhookConfig& webhook, std::string_view body,
                                                                 std::uint64_t now_seconds) {
    std::vector<std::pair<std::string, std::string>> headers{{"Content-Type", "application/json"}};
    if (webhook.kind == "generic" && !webhook.secret.empty()) {
        const auto timestamp = std::to_string(now_seconds);
        headers.emplace_back("X-Flowguard-Timestamp", timestamp);
        headers.emplace_back("X-Flowguard-Signature", webhook_signature(webhook.secret, timestamp, body));
    }
    for (const auto& h : webhook.headers) headers.push_back(h);
    return headers;
}

}  // namespace flowguard::exporters
