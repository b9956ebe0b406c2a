#include <flowguard/exporters/webhook.hpp>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

#include <string>
#include <utility>

using namespace flowguard;
using namespace flowguard::exporters;

namespace {

Alert sample_alert() {
    Alert a;
    a.id = "ioc-1";
    a.kind = "ioc_address";
    a.severity = Severity::high;
    a.score = 0.9;
    a.src_addr = *IpAddress::parse("10.0.0.6");
    a.dst_addr = *IpAddress::parse("13.59.205.66");
    a.first_seen_ns = 1'700'000'000'000'000'000ull;
    a.last_seen_ns = a.first_seen_ns;
    a.techniques = {"T1071.001"};
    a.dedup_key = "ioc_address|10.0.0.6|13.59.205.66";
    a.evidence = {{"indicator", "13.59.205.66"}};
    return a;
}

// Strings built before they are assigned: GCC 12 at -O3 warns falsely (-Wrestrict, its bug 105329) when
// a literal is assigned to a string member through operator=(const char*).
WebhookConfig hook(std::string kind, std::string url) {
    WebhookConfig w;
    w.name = std::string("t");
    w.kind = std::move(kind);
    w.url = std::move(url);
    w.routing_key = "KEY";
    return w;
}

}  // namespace

TEST_CASE("webhook URLs: scheme, host, port, path; anything else is refused") {
    const auto a = parse_webhook_url("https://hooks.example.com/services/T0/B1");
    CHECK(a.tls);
    CHECK(a.host == "hooks.example.com");
    CHECK(a.port == "443");
    CHECK(a.path == "/services/T0/B1");
    const auto b = parse_webhook_url("http://127.0.0.1:9093");
    CHECK_FALSE(b.tls);
    CHECK(b.port == "9093");
    CHECK(b.path == "/");
    const auto c = parse_webhook_url("http://[::1]:8080/x");
    CHECK(c.host == "::1");
    CHECK(c.port == "8080");
    CHECK_THROWS_AS(parse_webhook_url("ftp://x/"), std::invalid_argument);
    CHECK_THROWS_AS(parse_webhook_url("http://:80/"), std::invalid_argument);
    CHECK_THROWS_AS(parse_webhook_url("http://x:70000/"), std::invalid_argument);
    CHECK_THROWS_AS(parse_webhook_url("http://user:pw@x/"), std::invalid_argument);
    const auto upper = parse_webhook_url("HTTPS://Hooks.Example.com/X");  // RFC 3986: the scheme's case is free
    CHECK(upper.tls);
    CHECK(upper.host == "Hooks.Example.com");
    CHECK(parse_webhook_url("Http://x/").port == "80");
    CHECK_THROWS_AS(parse_webhook_url("http://127.0.0.1:99999/x"), std::invalid_argument);
    CHECK_THROWS_AS(parse_webhook_url("https://[::1"), std::invalid_argument);
    CHECK_THROWS_AS(parse_webhook_url("https://[::1]x/"), std::invalid_argument);
    CHECK_THROWS_AS(parse_webhook_url("http://exa mple.com/"), std::invalid_argument);
    CHECK_THROWS_AS(parse_webhook_url("http://example.com/a b"), std::invalid_argument);
    CHECK_THROWS_AS(parse_webhook_url("http://example.com/a\r\nX-Injected: 1"), std::invalid_argument);
    CHECK_THROWS_AS(parse_webhook_url("http://exa<mple.com/"), std::invalid_argument);
    CHECK_THROWS_AS(parse_webhook_url("http://[zz::1]/"), std::invalid_argument);
}

TEST_CASE("each webhook kind gets the body its receiver expects") {
    const auto alert = sample_alert();
    const auto generic = boost::json::parse(webhook_body(hook("generic", "http://x/in"), alert)).as_object();
    CHECK(generic.at("kind").as_string() == "ioc_address");
    CHECK(generic.at("dedup_key").as_string() == alert.dedup_key);

    const auto slack = boost::json::parse(webhook_body(hook("slack", "https://hooks.slack.com/s/1"), alert));
    const std::string text(slack.at("text").as_string());
    CHECK(text.find("high ioc_address: 10.0.0.6 -> 13.59.205.66") != std::string::npos);
    CHECK(text.find("T1071.001") != std::string::npos);

    const auto pd = boost::json::parse(webhook_body(hook("pagerduty", "https://e.example/v2/enqueue"), alert));
    CHECK(pd.at("routing_key").as_string() == "KEY");
    CHECK(pd.at("event_action").as_string() == "trigger");
    CHECK(pd.at("dedup_key").as_string() == alert.dedup_key);
    CHECK(pd.at("payload").at("severity").as_string() == "error");  // PagerDuty's word for high
    CHECK(pd.at("payload").at("source").as_string() == "10.0.0.6");
    CHECK(pd.at("payload").at("timestamp").as_string() == "2023-11-14T22:13:20.000Z");

    const auto am_hook = hook("alertmanager", "http://am:9093/");
    CHECK(webhook_path(am_hook) == "/api/v2/alerts");
    const auto am = boost::json::parse(webhook_body(am_hook, alert)).as_array();
    REQUIRE(am.size() == 1);
    CHECK(am[0].at("labels").at("alertname").as_string() == "FlowguardDetection");
    CHECK(am[0].at("labels").at("dedup_key").as_string() == alert.dedup_key);
    CHECK(am[0].at("annotations").at("dst_addr").as_string() == "13.59.205.66");
    CHECK(am[0].at("startsAt").as_string() == "2023-11-14T22:13:20.000Z");
}

TEST_CASE("a resolved finding closes the receiver's incident; an open one says when it expires") {
    auto open = sample_alert();
    open.expires_ns = open.first_seen_ns + 72 * 3'600'000'000'000ull;
    auto resolved = open;
    resolved.status = AlertStatus::resolved;
    resolved.resolved_ns = open.first_seen_ns + 3 * 86'400'000'000'000ull;
    // PagerDuty Events v2: resolve with the incident's dedup key and nothing else it would reject.
    const auto pd =
        boost::json::parse(webhook_body(hook("pagerduty", "https://e.example/v2/enqueue"), resolved)).as_object();
    CHECK(pd.at("event_action").as_string() == "resolve");
    CHECK(pd.at("dedup_key").as_string() == open.dedup_key);
    CHECK(pd.at("routing_key").as_string() == "KEY");
    CHECK_FALSE(pd.contains("payload"));
    // Alertmanager: the same labels, endsAt in the past of the resolution = resolved; an open alert's endsAt is
    // its expiry, so Alertmanager does not resolve it after its own resolve_timeout (5 minutes).
    const auto am_hook = hook("alertmanager", "http://am:9093/");
    const auto am_open = boost::json::parse(webhook_body(am_hook, open)).as_array();
    const auto am_resolved = boost::json::parse(webhook_body(am_hook, resolved)).as_array();
    CHECK(am_open[0].at("labels") == am_resolved[0].at("labels"));
    CHECK(am_open[0].at("endsAt").as_string() == "2023-11-17T22:13:20.000Z");
    CHECK(am_resolved[0].at("endsAt").as_string() == "2023-11-17T22:13:20.000Z");
    CHECK(am_resolved[0].at("annotations").at("status").as_string() == "resolved");
    // Generic and Slack say it in words.
    CHECK(boost::json::parse(webhook_body(hook("generic", "http://x/in"), resolved)).at("status").as_string() ==
          "resolved");
    const auto slack = boost::json::parse(webhook_body(hook("slack", "https://hooks.slack.com/s/1"), resolved));
    CHECK(std::string(slack.at("text").as_string()).starts_with("[RESOLVED] flowguard high ioc_address"));
}

TEST_CASE("a generic webhook can take the ECS rendering") {
    auto w = hook("generic", "http://x/in");
    w.format = "ecs";
    auto alert = sample_alert();
    alert.dst_port = 443;
    alert.proto = 6;
    const auto ecs = boost::json::parse(webhook_body(w, alert)).as_object();
    CHECK(ecs.at("event").at("kind").as_string() == "alert");
    CHECK(ecs.at("source").at("ip").as_string() == "10.0.0.6");
    CHECK(ecs.at("destination").at("ip").as_string() == "13.59.205.66");
    CHECK(ecs.at("destination").at("port").to_number<int>() == 443);
    CHECK(ecs.at("network").at("transport").as_string() == "tcp");
    CHECK(ecs.at("threat").at("technique").at("id").as_array()[0].as_string() == "T1071");
}

TEST_CASE("an update of a finding reaches each receiver as the same finding") {
    auto opened = sample_alert();
    auto updated = opened;
    updated.status = AlertStatus::updated;
    updated.last_seen_ns += 3'600'000'000'000ull;
    updated.evidence["victim_domain"] = "central.pima.gov";
    const auto generic = boost::json::parse(webhook_body(hook("generic", "http://x/in"), updated)).as_object();
    CHECK(generic.at("status").as_string() == "updated");
    CHECK(boost::json::parse(webhook_body(hook("generic", "http://x/in"), opened)).at("status").as_string() == "open");
    // PagerDuty: a trigger with the open incident's dedup key adds to it; Alertmanager: the same labels are the
    // same alert, its annotations replaced.
    const auto pd = boost::json::parse(webhook_body(hook("pagerduty", "https://e.example/v2/enqueue"), updated));
    CHECK(pd.at("event_action").as_string() == "trigger");
    CHECK(pd.at("dedup_key").as_string() == opened.dedup_key);
    const auto am_hook = hook("alertmanager", "http://am:9093/");
    const auto am_open = boost::json::parse(webhook_body(am_hook, opened)).as_array();
    const auto am_updated = boost::json::parse(webhook_body(am_hook, updated)).as_array();
    CHECK(am_open[0].at("labels") == am_updated[0].at("labels"));
    CHECK(am_open[0].at("annotations").at("evidence") != am_updated[0].at("annotations").at("evidence"));
}

TEST_CASE("generic webhooks are signed over timestamp.body with HMAC-SHA256") {
    // Expected value from Python: hmac.new(b"key", b'1700000000.{"kind":"beacon"}', hashlib.sha256)
    CHECK(webhook_signature("key", "1700000000", R"({"kind":"beacon"})") ==
          "sha256=48fbf950ad905ddf6c832c52ec6e1c2a7bf2468fe83a472117049e81eb31759f");
    auto w = hook("generic", "http://x/");
    w.secret = "key";
    w.headers = {{"Authorization", "Bearer t"}};
    const auto headers = webhook_headers(w, R"({"kind":"beacon"})", 1'700'000'000);
    auto value = [&](std::string_view name) {
        for (const auto& [n, v] : headers)
            if (n == name) return v;
        return std::string();
    };
    CHECK(value("X-Flowguard-Timestamp") == "1700000000");
    CHECK(value("X-Flowguard-Signature") == "sha256=48fbf950ad905ddf6c832c52ec6e1c2a7bf2468fe83a472117049e81eb31759f");
    CHECK(value("Authorization") == "Bearer t");
    w.secret.clear();
    CHECK(webhook_headers(w, "{}", 1).size() == 2);  // no secret: no signature headers
}
