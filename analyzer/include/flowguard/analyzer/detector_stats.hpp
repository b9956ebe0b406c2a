#pragma once
// What every detector reports about its state, and the metrics that come of it.
#include <flowguard/core/counters.hpp>

#include <cstdint>

namespace flowguard::analyzer {

// What every detector reports about its state: the analyzer adds these up into flowguard_analyzer_series and
// series_evictions, and the summary's suppressed_popular.
struct DetectorStats {
    std::uint64_t series = 0;              // per-(client, target) states kept now
    std::uint64_t series_evictions = 0;    // states forgotten at the cap
    std::uint64_t suppressed_popular = 0;  // findings not reported: many clients do the same (a service)
};

// The metrics every detector has, labelled {detector}.
inline constexpr CounterTable<DetectorStats, 3> kDetectorStats{{
    {"", counter_ref<&DetectorStats::series>, Merge::sum, "flowguard_detector_series", MetricType::gauge,
     "Per-(client, target) states a detector keeps now."},
    {"", counter_ref<&DetectorStats::series_evictions>, Merge::sum, "flowguard_detector_series_evictions_total",
     MetricType::counter, "States a detector forgot at its cap."},
    {"", counter_ref<&DetectorStats::suppressed_popular>, Merge::sum, "flowguard_detector_suppressed_total",
     MetricType::counter, "Findings not reported because many clients do the same (a service, not C2)."},
}};

}  // namespace flowguard::analyzer
