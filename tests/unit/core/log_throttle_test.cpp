#include <flowguard/core/log_throttle.hpp>

#include <doctest/doctest.h>

using flowguard::LogThrottle;

namespace {
constexpr std::uint64_t kSecond = 1'000'000'000ull;
}

TEST_CASE("log throttle: at once, then once a minute while failures last, at once again after a reset") {
    LogThrottle throttle;
    CHECK_FALSE(throttle.logged());
    CHECK(throttle.due(0));  // a clock that starts at 0 (a capture's, a test's) is logged too
    CHECK(throttle.logged());
    CHECK_FALSE(throttle.due(1));
    CHECK_FALSE(throttle.due(59 * kSecond));
    CHECK(throttle.due(60 * kSecond));
    CHECK_FALSE(throttle.due(119 * kSecond));
    CHECK(throttle.due(500 * kSecond));
    throttle.reset();
    CHECK_FALSE(throttle.logged());
    CHECK(throttle.due(501 * kSecond));
    CHECK_FALSE(throttle.due(502 * kSecond));
}
