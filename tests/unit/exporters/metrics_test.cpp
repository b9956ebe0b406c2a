#include <flowguard/exporters/metrics.hpp>
#include <flowguard/exporters/traffic_stats.hpp>

#include <doctest/doctest.h>

#include <regex>
#include <set>
#include <string>

using namespace flowguard;
using namespace flowguard::exporters;

TEST_CASE("a scrape only emits what the catalogue declares") {
    const MetricCatalog catalog(
        {{"flowguard_records_total", MetricType::counter, "Records.", {"exporter", "flow_protocol"}},
         {"flowguard_templates", MetricType::gauge, "Templates.", {}}});
    const auto text = render_metrics(catalog, [](MetricSink& w) {
        w.add("flowguard_records_total", {"192.0.2.1", "ipfix"}, 42);
        w.add("flowguard_templates", {}, 3);
    });
    CHECK(text.find("# TYPE flowguard_records_total counter") != std::string::npos);
    CHECK(text.find("flowguard_records_total{exporter=\"192.0.2.1\",flow_protocol=\"ipfix\"} 42") != std::string::npos);
    CHECK(text.find("flowguard_templates 3") != std::string::npos);
    MetricWriter w(catalog);
    CHECK_THROWS_AS(w.add("flowguard_invented_total", {}, 1), std::logic_error);
    CHECK_THROWS_AS(w.add("flowguard_records_total", {"only-one-label"}, 1), std::logic_error);
}

namespace {

FlowRecord flow(const char* src, const char* dst, std::uint16_t sport, std::uint16_t dport, std::uint64_t bytes,
                std::uint64_t rate = 1) {
    FlowRecord r;
    r.sampler_address = *IpAddress::parse("192.0.2.1");
    r.src_addr = *IpAddress::parse(src);
    r.dst_addr = *IpAddress::parse(dst);
    r.src_port = sport;
    r.dst_port = dport;
    r.proto = 6;
    r.bytes = bytes;
    r.packets = 1;
    r.sampling_rate = rate;
    r.in_if = 1;
    r.out_if = 2;
    return r;
}

}  // namespace

TEST_CASE("traffic: interfaces, protocols and applications scale by the sampling rate") {
    MetricsConfig config;
    ApplicationMap apps({ApplicationPorts{"backup", {9102}}});
    TrafficStats stats(config, apps);
    stats.add(flow("10.0.0.1", "203.0.113.5", 50000, 443, 1000, 100));
    stats.add(flow("10.0.0.2", "10.0.0.9", 9102, 41000, 500));
    const auto& s = stats.snapshot();
    const auto in = s.interfaces.find(InterfaceTrafficKey{*IpAddress::parse("192.0.2.1"), 1, false});
    REQUIRE(in != s.interfaces.end());
    CHECK(in->second.bytes == 100'500);
    CHECK(in->second.packets == 101);
    CHECK(in->second.flows == 2);
    CHECK(s.protocols[6].bytes == 100'500);
    const auto& names = apps.names();
    const auto index = [&](const char* n) { return std::find(names.begin(), names.end(), n) - names.begin(); };
    CHECK(s.applications[static_cast<std::size_t>(index("https"))].bytes == 100'000);
    CHECK(s.applications[static_cast<std::size_t>(index("backup"))].bytes == 500);
}

TEST_CASE("traffic: a hostile rate or byte count saturates the counters, which never go down") {
    MetricsConfig config;
    ApplicationMap apps;
    TrafficStats a(config, apps), b(config, apps);
    a.add(flow("10.0.0.1", "203.0.113.5", 50000, 443, 1000, UINT64_MAX));
    const auto key = InterfaceTrafficKey{*IpAddress::parse("192.0.2.1"), 1, false};
    CHECK(a.snapshot().interfaces.at(key).bytes == UINT64_MAX);
    a.add(flow("10.0.0.1", "203.0.113.5", 50000, 443, 1000, 2));
    CHECK(a.snapshot().interfaces.at(key).bytes == UINT64_MAX);
    CHECK(a.snapshot().protocols[6].packets == UINT64_MAX);
    b.add(flow("10.0.0.2", "203.0.113.5", 50000, 443, 1000, 1));
    auto merged = a.snapshot();
    merged.merge(b.snapshot(), config.top_k);
    CHECK(merged.interfaces.at(key).bytes == UINT64_MAX);  // a shard's copy added does not wrap it
    CHECK(merged.protocols[6].flows == 3);
}

TEST_CASE("traffic: top-K of the last complete window, capped keys, merged across shards") {
    MetricsConfig config;
    config.top_k = 2;
    config.top_window_ns = 60'000'000'000ull;
    config.max_window_keys = 3;
    ApplicationMap apps;
    TrafficStats a(config, apps), b(config, apps);
    a.roll(1'000'000'000ull);
    b.roll(1'000'000'000ull);
    a.add(flow("10.0.0.1", "198.51.100.1", 1, 80, 5000));
    a.add(flow("10.0.0.2", "198.51.100.1", 1, 80, 3000));
    a.add(flow("10.0.0.3", "198.51.100.2", 1, 80, 1000));
    a.add(flow("10.0.0.4", "198.51.100.3", 1, 80, 9000));  // a fourth source: beyond max_window_keys
    b.add(flow("10.0.0.2", "198.51.100.1", 1, 80, 4000));
    a.roll(30'000'000'000ull);  // mid-window: nothing ranked yet
    CHECK(a.snapshot().talkers.empty());
    a.roll(62'000'000'000ull);
    b.roll(62'000'000'000ull);
    REQUIRE(a.snapshot().talkers.size() == 2);
    CHECK(a.snapshot().talkers[0].address.to_string() == "10.0.0.1");
    TrafficSnapshot merged;
    merged.merge(a.snapshot(), 2);
    merged.merge(b.snapshot(), 2);
    REQUIRE(merged.talkers.size() == 2);
    CHECK(merged.talkers[0].address.to_string() == "10.0.0.2");  // 3000 + 4000 across the two shards
    CHECK(merged.talkers[0].bytes == 7000);
    CHECK(merged.destinations[0].address.to_string() == "198.51.100.1");
    CHECK(merged.conversations[0].peer.to_string() == "198.51.100.1");
    // The next window saw nothing: its top lists are empty.
    a.roll(125'000'000'000ull);
    CHECK(a.snapshot().talkers.empty());
}

TEST_CASE("traffic as a shard's stage: counts what flows through, rolls windows at flush, publishes copies") {
    MetricsConfig config;
    config.top_window_ns = 1'000'000'000;
    ApplicationMap apps;
    TrafficStage stage(config, apps);
    Alerts alerts;
    const std::vector<FlowRecord> batch{flow("10.0.0.1", "203.0.113.5", 50000, 443, 1000),
                                        flow("10.0.0.2", "203.0.113.5", 50001, 443, 3000)};
    stage.flush(1'000'000'000);  // the window opens
    stage.on_flows(batch, 0, alerts);
    CHECK(stage.published().protocols[6].bytes == 0);  // nothing published yet
    stage.flush(2'500'000'000);                        // past the window's end: ranked
    stage.publish();
    const auto snap = stage.published();
    CHECK(snap.protocols[6].bytes == 4000);
    REQUIRE_FALSE(snap.talkers.empty());
    CHECK(snap.talkers[0].address.to_string() == "10.0.0.2");
    CHECK(alerts.empty());
}
