#include <flowguard/core/time_format.hpp>

#include <doctest/doctest.h>

using namespace flowguard;

TEST_CASE("a time typed on the command line: ISO 8601, nfdump's form, epoch seconds, now and ages") {
    constexpr std::uint64_t s = 1'000'000'000;
    constexpr std::uint64_t t = 1'796'637'600ull * s;  // 2026-12-07T10:00:00Z
    const std::uint64_t now = t + 3600 * s;
    CHECK(parse_time_argument("2026-12-07T10:00:00Z", now) == t);
    CHECK(parse_time_argument("2026-12-07T10:00:00", now) == t);
    CHECK(parse_time_argument("2026-12-07 10:00", now) == t);
    CHECK(parse_time_argument("2026-12-07T10:00:00.500Z", now) == t + s / 2);
    CHECK(parse_time_argument("2026/12/07.10:00:00", now) == t);
    CHECK(parse_time_argument("2026-12-07", now) == t - 10 * 3600 * s);
    CHECK(parse_time_argument("1796637600", now) == t);
    CHECK(parse_time_argument("now", now) == now);
    CHECK(parse_time_argument("-1h", now) == t);
    CHECK(parse_time_argument("-60m", now) == t);
    CHECK(parse_time_argument("-3600s", now) == t);
    CHECK(parse_time_argument("-2d", now) == now - 2 * 86400 * s);
    CHECK(parse_time_argument("-1w", now) == now - 7 * 86400 * s);
    CHECK_FALSE(parse_time_argument("yesterday", now));
    CHECK_FALSE(parse_time_argument("-2x", now));
    CHECK_FALSE(parse_time_argument("-h", now));
    CHECK_FALSE(parse_time_argument("2026-12-07T10", now));
    CHECK_FALSE(parse_time_argument("", now));
}
