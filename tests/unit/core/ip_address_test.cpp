#include <flowguard/core/ip_address.hpp>

#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <cstring>
#include <string>

using namespace flowguard;

TEST_CASE("IPv4 and IPv6 round-trip through text") {
    const auto v4 = IpAddress::parse("192.0.2.1");
    REQUIRE(v4);
    CHECK(v4->is_v4());
    CHECK(v4->v4() == 0xc0000201u);
    CHECK(v4->to_string() == "192.0.2.1");
    const auto v6 = IpAddress::parse("2001:db8::10");
    REQUIRE(v6);
    CHECK(v6->is_v6());
    CHECK(v6->to_string() == "2001:db8::10");
    CHECK_FALSE(IpAddress::parse("300.1.1.1"));
    CHECK_FALSE(IpAddress::parse(""));
    CHECK(IpAddress{}.to_string().empty());
}

TEST_CASE("an IPv4 address and its IPv4-mapped IPv6 form are different values") {
    // The family is part of the value: a v6 exporter sending ::ffff:a.b.c.d is not the v4 one.
    const auto v4 = IpAddress::from_v4(0x0a000001);
    const auto mapped = IpAddress::parse("::ffff:10.0.0.1");
    REQUIRE(mapped);
    CHECK(v4.bytes() == mapped->bytes());
    CHECK_FALSE(v4 == *mapped);
    CHECK(hash_value(v4) != hash_value(*mapped));
}

TEST_CASE("an address with a NUL inside is refused, not read up to the NUL") {
    using namespace std::string_literals;
    CHECK_FALSE(IpAddress::parse("::\0\0\xff\xff"s));
    CHECK_FALSE(IpAddress::parse("10.0.0.1\0junk"s));
    CHECK_FALSE(IpAddress::parse("\0"s));
    CHECK(IpAddress::parse("::"));
}

TEST_CASE("IPv4 text is what inet_ntop writes, for every octet value in every position") {
    char ours[64];
    char theirs[INET_ADDRSTRLEN];
    for (unsigned position = 0; position < 4; ++position) {
        for (unsigned v = 0; v < 256; ++v) {
            std::uint8_t b[4] = {192, 0, 2, 1};
            b[position] = static_cast<std::uint8_t>(v);
            const auto a = IpAddress::from_v4_bytes(b);
            const auto n = a.format_to(ours);
            REQUIRE(inet_ntop(AF_INET, b, theirs, sizeof theirs) != nullptr);
            CHECK(std::string(ours, n) == theirs);
            CHECK(std::strlen(ours) == n);  // NUL-terminated as inet_ntop's was
        }
    }
    CHECK(IpAddress::from_v4(0xffffffffu).to_string() == "255.255.255.255");
    CHECK(IpAddress::from_v4(0).to_string() == "0.0.0.0");
}
