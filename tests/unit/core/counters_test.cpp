#include "pipeline_doubles.hpp"

#include <flowguard/core/counters.hpp>
#include <flowguard/core/metric_labels.hpp>
#include <flowguard/core/metric_samples.hpp>

#include <doctest/doctest.h>

#include <map>
#include <string>

using namespace flowguard;

namespace {

struct Sequence {
    std::uint64_t lost = 0;
};

struct Stats {
    std::uint64_t packets = 0;
    std::uint64_t last_ns = 0;
    Sequence sequence;
    std::uint64_t in_bytes = 0;
    std::uint64_t out_bytes = 0;
};

inline constexpr CounterTable<Stats, 5> kStats{{
    {"packets", counter_ref<&Stats::packets>, Merge::sum, "flowguard_test_packets_total", MetricType::counter, "P."},
    {"", counter_ref<&Stats::last_ns>, Merge::max, "flowguard_test_last_seen_seconds", MetricType::gauge, "L.", 1e-9},
    {"lost", counter_ref<&Stats::sequence, &Sequence::lost>},
    {"in_bytes", counter_ref<&Stats::in_bytes>, Merge::sum, "flowguard_test_bytes_total", MetricType::counter, "B.", 1,
     "in"},
    {"out_bytes", counter_ref<&Stats::out_bytes>, Merge::sum, "flowguard_test_bytes_total", MetricType::counter, "B.",
     1, "out"},
}};

}  // namespace

TEST_CASE("counter tables: merge by each field's rule, members of members included") {
    Stats a{10, 500, {1}, 7, 8};
    const Stats b{5, 900, {2}, 1, 1};
    merge_counters(a, b, kStats);
    CHECK(a.packets == 15);
    CHECK(a.last_ns == 900);  // the newest wins
    CHECK(a.sequence.lost == 3);
    CHECK(a.in_bytes == 8);
    merge_counters(a, Stats{0, 100, {}, 0, 0}, kStats);
    CHECK(a.last_ns == 900);
}

TEST_CASE("counter tables: the summary has every keyed field, metrics every named one, scaled and labelled") {
    const Stats s{3, 2'000'000'000, {4}, 100, 200};
    boost::json::object summary;
    add_to_summary(summary, s, kStats);
    CHECK(summary.size() == 4);  // last_ns has no summary key
    CHECK(summary.at("lost").as_uint64() == 4);
    testing::RecordedMetrics metrics;
    write_metrics(metrics, s, kStats, {"192.0.2.1"});
    CHECK(metrics.values.at("flowguard_test_packets_total|192.0.2.1") == 3);
    CHECK(metrics.values.at("flowguard_test_last_seen_seconds|192.0.2.1") == doctest::Approx(2.0));
    CHECK(metrics.values.at("flowguard_test_bytes_total|192.0.2.1|in") == 100);
    CHECK(metrics.values.at("flowguard_test_bytes_total|192.0.2.1|out") == 200);
    CHECK(metrics.values.size() == 4);
    std::vector<MetricSpec> catalog;
    append_metric_specs(catalog, kStats, {"exporter", "direction"});
    CHECK(catalog.size() == 3);  // the shared metric once
    CHECK(catalog[2].name == "flowguard_test_bytes_total");
}

TEST_CASE("metric samples replay what a thread published; summed samples add up series by series") {
    MetricSamples shard1, shard2;
    shard1.add("flowguard_x_total", {"a"}, 2);
    shard1.add("flowguard_y", {}, 1);
    shard2.add("flowguard_x_total", {"a"}, 3);
    shard2.add("flowguard_x_total", {"b"}, 1);
    SummedMetrics sum;
    shard1.write_to(sum);
    shard2.write_to(sum);
    testing::RecordedMetrics out;
    sum.write_to(out);
    CHECK(out.values.at("flowguard_x_total|a") == 5);
    CHECK(out.values.at("flowguard_x_total|b") == 1);
    CHECK(out.values.at("flowguard_y") == 1);
}

TEST_CASE("exporter labels: the first ones keep their names, later ones are 'other'; span-port records are named") {
    ExporterLabels labels(2, 1, "eth1");
    CHECK(labels.exporter(*IpAddress::parse("192.0.2.1")) == "192.0.2.1");
    CHECK(labels.exporter(*IpAddress::parse("192.0.2.2")) == "192.0.2.2");
    CHECK(labels.exporter(*IpAddress::parse("192.0.2.3")) == "other");
    CHECK(labels.exporter(*IpAddress::parse("192.0.2.1")) == "192.0.2.1");  // named for the process's life
    CHECK(labels.exporter(IpAddress{}) == "span:eth1");
    CHECK(labels.interface(*IpAddress::parse("192.0.2.1"), 7) == "7");
    CHECK(labels.interface(*IpAddress::parse("192.0.2.1"), 8) == "other");
    CHECK(ExporterLabels(1, 1, "").exporter(IpAddress{}).empty());
}
