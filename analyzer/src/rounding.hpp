#pragma once
// Scores and their parts in alerts' evidence are rounded to three decimals: enough to read and compare, and
// stable across compilers' last-bit differences (golden outputs pin them).
#include <cmath>

namespace flowguard::analyzer {

inline double round3(double v) {
    return std::round(v * 1000.0) / 1000.0;
}

}  // namespace flowguard::analyzer
