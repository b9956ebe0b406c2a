#include <flowguard/collector/port_guard.hpp>

#include <doctest/doctest.h>

#include <log_capture.hpp>
#include <system_error>

using namespace flowguard;
using namespace flowguard::collector;

namespace {

// As the kernel prints them (lines shortened after the inode, which the parser does not need).
constexpr std::string_view kUdp =
    "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer "
    "drops\n"
    "  101: 0100007F:0807 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 4242 2 0 0\n"
    "  102: 00000000:1F91 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4343 2 0 0\n"
    "  103: garbage\n"
    "  104: 0200007F:0807 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 4444 2 0 0\n";
constexpr std::string_view kUdp6 =
    "  sl  local_address                         remote_address                        st tx_queue rx_queue tr "
    "tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
    "   7: 00000000000000000000000001000000:0807 00000000000000000000000000000000:0000 07 00000000:00000000 "
    "00:00000000 00000000   998        0 5151 2 0 0\n";

ListenEndpoint endpoint(const char* text) {
    return ListenEndpoint::parse(text);
}

}  // namespace

TEST_CASE("the kernel's UDP tables: address, port, uid and inode of each socket; bad lines skipped") {
    const auto v4 = parse_udp_table(kUdp, false);
    REQUIRE(v4.size() == 3);
    CHECK(v4[0].port == 2055);
    CHECK(v4[0].address[0] == 127);
    CHECK(v4[0].address[3] == 1);
    CHECK(v4[0].uid == 1000);
    CHECK(v4[0].inode == 4242);
    CHECK(v4[1].port == 8081);
    const auto v6 = parse_udp_table(kUdp6, true);
    REQUIRE(v6.size() == 1);
    CHECK(v6[0].v6);
    CHECK(v6[0].address[15] == 1);  // ::1
    CHECK(v6[0].inode == 5151);
    CHECK(read_udp_sockets("/nonexistent").empty());  // no such tables: nothing, no error
}

TEST_CASE("who shares a listener's port: same port and family, same address or a wildcard on either side") {
    const auto v4 = parse_udp_table(kUdp, false);
    const auto v6 = parse_udp_table(kUdp6, true);
    CHECK(shares_port(endpoint("udp://127.0.0.1:2055"), v4[0]));
    CHECK(shares_port(endpoint("udp://0.0.0.0:2055"), v4[0]));
    CHECK_FALSE(shares_port(endpoint("udp://127.0.0.2:2055"), v4[0]));  // another address, same port
    CHECK(shares_port(endpoint("udp://127.0.0.2:2055"), v4[2]));
    CHECK(shares_port(endpoint("udp://127.0.0.9:8081"), v4[1]));  // their wildcard takes ours too
    CHECK_FALSE(shares_port(endpoint("udp://127.0.0.1:2056"), v4[0]));
    CHECK_FALSE(shares_port(endpoint("udp://127.0.0.1:2055"), v6[0]));  // another family
    CHECK(shares_port(endpoint("udp://[::1]:2055"), v6[0]));
}

TEST_CASE("a held port is refused before binding; a foreign socket is logged once while it stays") {
    const auto v4 = parse_udp_table(kUdp, false);
    try {
        refuse_if_port_held(endpoint("udp://0.0.0.0:2055"), v4);
        FAIL("a held port must be refused");
    } catch (const std::system_error& e) {
        CHECK(e.code().value() == EADDRINUSE);
        CHECK(std::string(e.what()).find("socket inode 4242, uid 1000") != std::string::npos);
    }
    CHECK_NOTHROW(refuse_if_port_held(endpoint("udp://0.0.0.0:2056"), v4));

    test::LogCapture log;
    PortGuard guard({endpoint("udp://127.0.0.1:2055")}, {4242});
    CHECK(guard.check(v4) == 0);  // ours only
    auto intruded = v4;
    intruded.push_back(v4[0]);
    intruded.back().inode = 9999;
    CHECK(guard.check(intruded) == 1);
    CHECK(guard.check(intruded) == 1);
    CHECK(guard.foreign() == 1);
    CHECK(guard.check(v4) == 0);
    const auto text = log.str();
    CHECK(text.find("a foreign socket joined the port, 127.0.0.1:2055 (socket inode 9999") != std::string::npos);
    CHECK(text.find("joined the port", text.find("joined the port") + 1) == std::string::npos);  // once
    CHECK(text.find("inode 9999) left") != std::string::npos);
}
