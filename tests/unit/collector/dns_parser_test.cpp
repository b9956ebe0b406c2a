#include <flowguard/collector/dns_parser.hpp>
#include <flowguard/collector/packet_parser.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace flowguard;
using namespace flowguard::collector;

namespace {

using Bytes = std::vector<std::uint8_t>;

void name(Bytes& out, const std::string& dotted) {
    std::size_t start = 0;
    while (start <= dotted.size()) {
        const auto dot = dotted.find('.', start);
        const auto label = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        out.push_back(static_cast<std::uint8_t>(label.size()));
        out.insert(out.end(), label.begin(), label.end());
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    out.push_back(0);
}

void u16(Bytes& out, unsigned v) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
}

Bytes header(unsigned flags, unsigned questions, unsigned answers) {
    Bytes m;
    u16(m, 0x1234);
    u16(m, flags);
    u16(m, questions);
    u16(m, answers);
    u16(m, 0);
    u16(m, 0);
    return m;
}

}  // namespace

TEST_CASE("DNS response: CNAME chain through compression pointers, then addresses, TTL and rcode") {
    Bytes m = header(0x8180, 1, 4);
    name(m, "www.victim.example");  // at offset 12
    u16(m, 1);
    u16(m, 1);
    // www.victim.example CNAME edge.cdn.example (owner by pointer to 12)
    m.push_back(0xc0), m.push_back(12);
    u16(m, 5), u16(m, 1), u16(m, 0), u16(m, 300);
    Bytes target;
    name(target, "edge.cdn.example");
    u16(m, static_cast<unsigned>(target.size()));
    const std::size_t target_offset = m.size();
    m.insert(m.end(), target.begin(), target.end());
    // an unrelated record in the answer section is skipped
    name(m, "other.example");
    u16(m, 1), u16(m, 1), u16(m, 0), u16(m, 5), u16(m, 4);
    m.insert(m.end(), {1, 2, 3, 4});
    // edge.cdn.example A 93.184.216.34 and AAAA, owner by pointer to the CNAME target
    m.push_back(0xc0), m.push_back(static_cast<std::uint8_t>(target_offset));
    u16(m, 1), u16(m, 1), u16(m, 0), u16(m, 60), u16(m, 4);
    m.insert(m.end(), {93, 184, 216, 34});
    m.push_back(0xc0), m.push_back(static_cast<std::uint8_t>(target_offset));
    u16(m, 28), u16(m, 1), u16(m, 0), u16(m, 120), u16(m, 16);
    for (int i = 0; i < 16; ++i) m.push_back(i == 0 ? 0x20 : (i == 1 ? 0x01 : (i == 15 ? 1 : 0)));
    DnsEvent e;
    REQUIRE(parse_dns_message(m.data(), m.size(), e) == DnsParseResult::ok);
    CHECK(e.response);
    CHECK(e.qname.view() == "www.victim.example");
    REQUIRE(e.cname_count == 1);
    CHECK(e.cnames[0].view() == "edge.cdn.example");
    REQUIRE(e.address_count == 2);
    CHECK(e.addresses[0].to_string() == "93.184.216.34");
    CHECK(e.addresses[1].to_string() == "2001::1");
    CHECK(e.min_ttl == 60);
    CHECK(e.rcode == 0);
    // Every prefix of the message is refused without reading past it.
    for (std::size_t cut = 0; cut < m.size(); ++cut) {
        DnsEvent partial;
        CHECK(parse_dns_message(m.data(), cut, partial) != DnsParseResult::ok);
    }
}

TEST_CASE("hostile names: pointer loops, forward pointers, over-long names are malformed, not hangs") {
    Bytes loop = header(0x0100, 1, 0);
    loop.push_back(0xc0), loop.push_back(12);  // points at itself
    DnsEvent e;
    CHECK(parse_dns_message(loop.data(), loop.size(), e) == DnsParseResult::malformed);
    Bytes forward = header(0x0100, 1, 0);
    forward.push_back(0xc0), forward.push_back(14);
    name(forward, "x.example");
    CHECK(parse_dns_message(forward.data(), forward.size(), e) == DnsParseResult::malformed);
    Bytes longname = header(0x0100, 1, 0);
    for (int i = 0; i < 5; ++i) {
        longname.push_back(63);
        longname.insert(longname.end(), 63, 'a');
    }
    longname.push_back(0);
    u16(longname, 1), u16(longname, 1);
    CHECK(parse_dns_message(longname.data(), longname.size(), e) == DnsParseResult::malformed);
}

TEST_CASE("packet parser: QinQ, IPv6 extension headers and fragments, truncation") {
    // Ethernet + 802.1ad + 802.1Q + IPv4 UDP 10.0.0.1:5353 -> 10.0.0.2:53
    Bytes f(12, 0);
    f.insert(f.end(), {0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x14, 0x08, 0x00});
    Bytes ip = {0x45, 0, 0, 28, 0, 7, 0x20, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2};  // MF set: first fragment
    f.insert(f.end(), ip.begin(), ip.end());
    f.insert(f.end(), {0x14, 0xe9, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00});
    PacketView v;
    REQUIRE(parse_frame(kLinkEthernet, f.data(), f.size(), v) == ParseResult::ok);
    CHECK(v.vlan == 10);
    CHECK(v.src_port == 5353);
    CHECK(v.dst_port == 53);
    CHECK(v.fragment == FragmentKind::first);
    CHECK(v.l3_length == 28);
    for (std::size_t cut = 0; cut < 14 + 8 + 20; ++cut) {
        PacketView partial;
        CHECK(parse_frame(kLinkEthernet, f.data(), cut, partial) != ParseResult::ok);
    }
    // IPv6 with a hop-by-hop header, then TCP
    Bytes v6 = {0x60, 0, 0, 0, 0, 28, 0, 64};
    for (int i = 0; i < 32; ++i) v6.push_back(i < 16 ? (i == 15 ? 1 : 0) : (i == 31 ? 2 : 0));
    v6.insert(v6.end(), {6, 0, 0, 0, 0, 0, 0, 0});  // hop-by-hop: next TCP, 8 bytes
    v6.insert(v6.end(), {0x01, 0xbb, 0xc3, 0x50, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x12, 0, 0, 0, 0, 0, 0});
    PacketView w;
    REQUIRE(parse_ip(v6.data(), v6.size(), w) == ParseResult::ok);
    CHECK(w.proto == 6);
    CHECK(w.src_port == 443);
    CHECK(w.dst_port == 50000);
    CHECK(w.tcp_flags == 0x12);
    CHECK(w.l3_length == 68);
}
