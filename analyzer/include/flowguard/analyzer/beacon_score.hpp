#pragma once
// RITA-style periodicity scoring of one series of connection times (and sizes): Bowley skewness and MAD of
// the inter-arrival times, coverage of the observed span (a beacon keeps calling; a burst does not), and the
// same skew/dispersion of sizes. Every sub-score is 0..1, 1 = machine-like regularity.
#include <cstdint>
#include <span>

namespace flowguard::analyzer {

struct BeaconScore {
    double score = 0;
    double skew_score = 0;     // max(1 - excess |Bowley|, regular_share)
    double regular_share = 0;  // most intervals in one band [c/2, 3c/2] (one period c, 50% jitter), as a share
    double dispersion_score = 0;
    double coverage_score = 0;
    double size_score = -1;  // -1: no sizes (DNS queries)
    double median_interval_s = 0;
    double mad_interval_s = 0;
    double bowley = 0;
    std::size_t connections = 0;
    double span_s = 0;
};

// times_ns need not be sorted; sizes may be empty. Uses scratch space inside; no allocation for <= 256 events.
// `interrupted`: bit i set leaves the interval between the i-th and (i+1)-th earliest times out of the interval
// statistics (the client slept in it: its length says nothing of the period); coverage still spans it.
BeaconScore score_beacon(std::span<const std::uint64_t> times_ns, std::span<const std::uint64_t> sizes,
                         std::uint64_t interrupted = 0);

}  // namespace flowguard::analyzer
