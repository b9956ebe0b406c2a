#include <flowguard/core/config.hpp>

#include <doctest/doctest.h>

using namespace flowguard;

TEST_CASE("listen endpoints accept the documented forms") {
    CHECK(ListenEndpoint::parse("udp://0.0.0.0:2055").port == 2055);
    CHECK(ListenEndpoint::parse(":6343").address == "0.0.0.0");
    CHECK(ListenEndpoint::parse("[::]:4739").address == "::");
    CHECK(ListenEndpoint::parse("[::]:4739").to_string() == "udp://[::]:4739");
    CHECK_THROWS_AS(ListenEndpoint::parse("localhost:2055"), ConfigError);
    CHECK_THROWS_AS(ListenEndpoint::parse("0.0.0.0"), ConfigError);
}

TEST_CASE("durations and sizes") {
    CHECK(parse_duration_ns("250ms") == 250'000'000ull);
    CHECK(parse_duration_ns("30") == 30'000'000'000ull);
    CHECK(parse_duration_ns("1h") == 3'600'000'000'000ull);
    CHECK(parse_duration_ns("750us") == 750'000ull);
    CHECK(parse_duration_ns("0") == 0);
    CHECK_THROWS_AS(parse_duration_ns("soon"), ConfigError);
    CHECK(parse_size_bytes("8MiB") == 8u << 20);
    CHECK_THROWS_AS(parse_size_bytes("9999999GiB"), ConfigError);
}
