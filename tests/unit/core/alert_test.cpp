#include <flowguard/core/alert.hpp>
#include <flowguard/core/time_format.hpp>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

using namespace flowguard;

TEST_CASE("alert JSON: one timestamp precision, SOC fields, and a lossless round trip for the ledger") {
    Alert a;
    a.id = "ioc:10.0.0.6:evil.example@1700000000";
    a.kind = "ioc_domain";
    a.severity = Severity::high;
    a.status = AlertStatus::updated;
    a.score = 0.9;
    a.src_addr = *IpAddress::parse("10.0.0.6");
    a.dst_addr = *IpAddress::parse("2001:db8::7");
    a.src_port = 50123;
    a.dst_port = 443;
    a.proto = 6;
    a.domain = "evil.example";
    a.query_name = "c2.eu.evil.example";
    a.first_seen_ns = 1'700'000'000'123'456'789ull;  // sub-millisecond digits are cut, never printed
    a.last_seen_ns = 1'700'000'100'000'000'000ull;
    a.raised_ns = 1'700'000'100'500'000'000ull;
    a.sensor = "sensor-1";
    a.exporter = *IpAddress::parse("192.0.2.1");
    a.input_interface = 7;
    a.techniques = {"T1071", "T1568.002"};
    a.dedup_key = "ioc:10.0.0.6:evil.example";
    a.evidence = {{"resolver", "10.0.0.53"}};

    const auto json = to_json(a);
    CHECK(json.at("first_seen").as_string() == "2023-11-14T22:13:20.123Z");
    CHECK(json.at("last_seen").as_string() == "2023-11-14T22:15:00.000Z");
    CHECK(json.at("raised").as_string() == "2023-11-14T22:15:00.500Z");
    CHECK(json.at("resolved").is_null());
    CHECK(json.at("severity_number").to_number<int>() == 73);
    CHECK(json.at("rule").at("name").as_string() == "flowguard-ioc-domain");
    CHECK(json.at("proto").as_string() == "tcp");
    CHECK(json.at("dst_port").to_number<int>() == 443);
    CHECK(json.at("query_name").as_string() == "c2.eu.evil.example");
    CHECK(json.at("observer").at("exporter").as_string() == "192.0.2.1");

    const Alert back = alert_from_json(boost::json::parse(to_json_line(a)).as_object());
    CHECK(back.id == a.id);
    CHECK(back.status == AlertStatus::updated);
    CHECK(back.dst_addr == a.dst_addr);
    CHECK(back.src_port == a.src_port);
    CHECK(back.proto == 6);
    CHECK(back.first_seen_ns == 1'700'000'000'123'000'000ull);
    CHECK(back.raised_ns == a.raised_ns);
    CHECK(back.sensor == "sensor-1");
    CHECK(back.exporter == a.exporter);
    CHECK(back.input_interface == 7);
    CHECK(back.techniques == a.techniques);
    CHECK(back.first_seen_ns != a.first_seen_ns);  // only the cut sub-millisecond digits differ...
    CHECK(to_json_line(back) == to_json_line(a));  // ...which the rendering never shows

    auto broken = to_json(a);
    broken["status"] = "maybe";
    CHECK_THROWS_AS(alert_from_json(broken), std::invalid_argument);
    broken = to_json(a);
    broken["first_seen"] = "yesterday";
    CHECK_THROWS_AS(alert_from_json(broken), std::invalid_argument);
}

TEST_CASE("ISO 8601 times parse back at any fraction; anything else is refused") {
    CHECK(parse_iso8601_ns("2023-11-14T22:13:20Z") == 1'700'000'000'000'000'000ull);
    CHECK(parse_iso8601_ns("2023-11-14T22:13:20.5Z") == 1'700'000'000'500'000'000ull);
    CHECK(parse_iso8601_ns("2023-11-14T22:13:20.000000001Z") == 1'700'000'000'000'000'001ull);
    CHECK_FALSE(parse_iso8601_ns("2023-11-14 22:13:20Z"));
    CHECK_FALSE(parse_iso8601_ns("2023-11-14T22:13:20"));
    CHECK_FALSE(parse_iso8601_ns("2023-11-14T22:13:20.x1Z"));
    CHECK(format_iso8601_ms(1'700'000'000'000'000'000ull) == "2023-11-14T22:13:20.000Z");
}
