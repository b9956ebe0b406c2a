#include "wiring.hpp"

#include <flowguard/analyzer/analyzer.hpp>
#include <flowguard/analyzer/passive_dns.hpp>
#include <flowguard/exporters/metrics.hpp>

#include <doctest/doctest.h>

#include <regex>
#include <set>
#include <string>

using namespace flowguard;
using namespace flowguard::exporters;

TEST_CASE("the metric catalogue follows Prometheus naming and is unique") {
    const std::regex name_re("flowguard_[a-z][a-z0-9_]*");
    std::set<std::string_view> names;
    for (const auto& m : app::metric_catalog().specs()) {
        CAPTURE(m.name);
        CHECK(std::regex_match(std::string(m.name), name_re));
        CHECK(names.insert(m.name).second);
        const bool total = m.name.ends_with("_total");
        CHECK(total == (m.type == MetricType::counter));  // counters and only counters end in _total
        CHECK_FALSE(m.help.empty());
        for (const auto& l : m.labels) CHECK(l != "le");
    }
    CHECK(names.contains("flowguard_records_total"));
    CHECK(names.contains("flowguard_build_info"));
}

TEST_CASE("metrics-doc lists every metric") {
    const auto doc = metrics_markdown(app::metric_catalog());
    for (const auto& m : app::metric_catalog().specs()) CHECK(doc.find(std::string(m.name)) != std::string::npos);
}

TEST_CASE("a metric two modules declare must be declared alike") {
    CHECK_THROWS_AS(MetricCatalog({{"flowguard_x_total", MetricType::counter, "X.", {"a"}},
                                   {"flowguard_x_total", MetricType::counter, "X.", {"b"}}}),
                    std::logic_error);
    CHECK(MetricCatalog({{"flowguard_x_total", MetricType::counter, "X.", {"a"}},
                         {"flowguard_x_total", MetricType::counter, "X.", {"a"}}})
              .specs()
              .size() == 1);
}

TEST_CASE("every metric the analyzer and its detectors write is in the catalogue") {
    // A detector that writes a metric the catalogue lacks makes every /metrics scrape fail (MetricWriter
    // throws): caught here rather than by the integration tests.
    analyzer::Analyzer engine(AnalyzerConfig{}, NetworkSet::private_networks(), analyzer::PublicSuffixList::fallback(),
                              analyzer::IocList::sunburst());
    engine.publish();
    MetricWriter writer(app::metric_catalog());
    CHECK_NOTHROW(engine.write_published_metrics(writer));
}
