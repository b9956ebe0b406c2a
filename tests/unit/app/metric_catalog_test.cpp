#include "wiring.hpp"

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
