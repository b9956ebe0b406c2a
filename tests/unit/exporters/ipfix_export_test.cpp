#include <flowguard/core/byte_order.hpp>
#include <flowguard/exporters/ipfix_export.hpp>

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

using namespace flowguard;

namespace {

constexpr std::uint64_t kSecond = 1'000'000'000;

FlowRecord v4_flow(std::uint32_t i) {
    FlowRecord r;
    r.src_addr = IpAddress::from_v4(0x0a000000u + i);
    r.dst_addr = *IpAddress::parse("198.51.100.7");
    r.proto = 6;
    r.src_port = static_cast<std::uint16_t>(40000 + i);
    r.dst_port = 443;
    r.bytes = 1000 + i;
    r.packets = 3;
    r.tcp_flags = 0x1b;
    r.time_flow_start_ns = 1'700'000'000'123'000'000ull;
    r.time_flow_end_ns = 1'700'000'001'456'999'999ull;
    r.flow_end_reason = 3;
    return r;
}

struct Set {
    std::uint16_t id;
    std::vector<std::uint8_t> body;
};

struct Message {
    std::uint16_t version, length;
    std::uint32_t export_time, sequence, domain;
    std::vector<Set> sets;
};

Message parse(std::span<const std::uint8_t> m) {
    Message out{load_be16(&m[0]), load_be16(&m[2]), load_be32(&m[4]), load_be32(&m[8]), load_be32(&m[12]), {}};
    std::size_t at = 16;
    while (at + 4 <= m.size()) {
        const auto id = load_be16(&m[at]);
        const auto len = load_be16(&m[at + 2]);
        REQUIRE(len >= 4);
        REQUIRE(at + len <= m.size());
        out.sets.push_back({id, std::vector<std::uint8_t>(m.begin() + static_cast<long>(at) + 4,
                                                          m.begin() + static_cast<long>(at + len))});
        at += len;
    }
    CHECK(at == m.size());
    return out;
}

}  // namespace

TEST_CASE("IPFIX export: templates first, records encoded field by field, sequence counts data records") {
    std::vector<Message> sent;
    exporters::IpfixEncoder encoder(
        {.observation_domain = 42, .max_message = 1400, .template_refresh_ns = 60 * kSecond},
        [&](std::span<const std::uint8_t> m) {
            CHECK(m.size() <= 1400);
            sent.push_back(parse(m));
            CHECK(sent.back().length == m.size());
        });
    const std::uint64_t t0 = 1'700'000'010ull * kSecond;
    for (std::uint32_t i = 0; i < 100; ++i) encoder.add(v4_flow(i), t0);
    encoder.flush(t0);
    REQUIRE(sent.size() >= 4);  // 100 records of 53 bytes do not fit in 1400-byte messages
    CHECK(sent[0].version == 10);
    CHECK(sent[0].domain == 42);
    CHECK(sent[0].export_time == 1'700'000'010u);
    REQUIRE(sent[0].sets.size() == 2);
    CHECK(sent[0].sets[0].id == 2);  // template set: IPv4 template 256 with 14 fields, then IPv6 257
    CHECK(load_be16(&sent[0].sets[0].body[0]) == 256);
    CHECK(load_be16(&sent[0].sets[0].body[2]) == 14);
    // Later messages within the refresh interval carry data only; sequences count the records before them.
    std::uint32_t expected_sequence = 0;
    std::uint32_t records = 0;
    for (const auto& m : sent) {
        CHECK(m.sequence == expected_sequence);
        const auto& data = m.sets.back();
        CHECK(data.id == 256);
        CHECK(data.body.size() % 53 == 0);
        expected_sequence += static_cast<std::uint32_t>(data.body.size() / 53);
        records += static_cast<std::uint32_t>(data.body.size() / 53);
    }
    for (std::size_t i = 1; i < sent.size(); ++i) CHECK(sent[i].sets.size() == 1);
    CHECK(records == 100);
    CHECK(encoder.stats().records == 100);

    // The first record, field by field (the order of the template).
    const auto& b = sent[0].sets[1].body;
    CHECK(load_be32(&b[0]) == 0x0a000000u);
    CHECK(load_be32(&b[4]) == 0xc6336407u);  // 198.51.100.7
    CHECK(load_be16(&b[8]) == 40000);
    CHECK(load_be16(&b[10]) == 443);
    CHECK(b[12] == 6);
    CHECK(load_be16(&b[13]) == 0x1b);
    CHECK(load_be16(&b[18]) == 0);  // vlan
    CHECK(b[20] == 3);              // flowEndReason
    CHECK(load_be64(&b[21]) == 1000);
    CHECK(load_be64(&b[29]) == 3);
    CHECK(load_be64(&b[37]) == 1'700'000'000'123ull);  // milliseconds, truncated
    CHECK(load_be64(&b[45]) == 1'700'000'001'456ull);
}

TEST_CASE("IPFIX export: IPv6 and ICMP records, template refresh on export time, records without addresses skipped") {
    std::vector<Message> sent;
    exporters::IpfixEncoder encoder({.observation_domain = 1, .max_message = 1400, .template_refresh_ns = 60 * kSecond},
                                    [&](std::span<const std::uint8_t> m) { sent.push_back(parse(m)); });
    FlowRecord r;
    r.src_addr = *IpAddress::parse("2001:db8::1");
    r.dst_addr = *IpAddress::parse("2001:db8::2");
    r.proto = 58;
    r.icmp_type = 128;
    r.icmp_code = 0;
    r.src_port = 7;  // meaningless for ICMP: exported as 0, the type/code go to icmpTypeCodeIPv6
    r.packets = 1;
    r.bytes = 104;
    r.ipv6_flow_label = 0x12345;
    const std::uint64_t t0 = 1'700'000'000ull * kSecond;
    encoder.add(r, t0);
    encoder.add(FlowRecord{}, t0);  // no addresses
    encoder.flush(t0);
    encoder.add(r, t0 + 30 * kSecond);
    encoder.flush(t0 + 30 * kSecond);
    encoder.add(r, t0 + 61 * kSecond);
    encoder.flush(t0 + 61 * kSecond);
    REQUIRE(sent.size() == 3);
    CHECK(sent[0].sets.size() == 2);
    CHECK(sent[1].sets.size() == 1);  // within the refresh interval: no templates
    CHECK(sent[2].sets.size() == 2);  // 61 s later: templates again
    CHECK(sent[2].sequence == 2);
    const auto& b = sent[1].sets[0].body;
    CHECK(sent[1].sets[0].id == 257);
    REQUIRE(b.size() == 81);
    CHECK(b[0] == 0x20);
    CHECK(load_be16(&b[32]) == 0);  // source port
    CHECK(b[36] == 58);
    CHECK(load_be16(&b[40]) == 128 << 8);  // icmpTypeCodeIPv6
    CHECK(load_be32(&b[45]) == 0x12345);
    CHECK(encoder.stats().skipped == 1);
}

TEST_CASE("IPFIX export to an address nobody listens on counts send errors and goes on") {
    exporters::IpfixUdpExporter exporter("udp://127.0.0.1:9", {});
    const std::uint64_t t0 = 1'700'000'000ull * kSecond;
    for (int round = 0; round < 3; ++round) {
        exporter.add(v4_flow(1), t0);
        exporter.flush(t0);
    }
    CHECK(exporter.stats().messages == 3);
    CHECK(exporter.send_errors() >= 1);  // the port-unreachable of one send is reported on the next
    CHECK_THROWS_WITH_AS(exporters::IpfixUdpExporter("udp://not-an-address:1", {}), doctest::Contains("not-an-address"),
                         std::exception);
}

TEST_CASE("the IPFIX export stage: a partly filled message leaves once a second of export time and at the end") {
    // A real collector-side socket on 127.0.0.1 counts what arrives.
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    exporters::IpfixUdpExporter exporter("udp://127.0.0.1:" + std::to_string(ntohs(address.sin_port)), {});
    exporters::IpfixExportStage first(exporter), second(exporter);  // two shards, one sequence space
    Alerts alerts;
    const std::uint64_t t0 = 1'700'000'000ull * kSecond;
    const std::vector<FlowRecord> batch{v4_flow(1), v4_flow(2)};
    first.on_flows(batch, t0, alerts);
    second.on_flows(batch, t0, alerts);
    first.flush(t0);  // the first flush of the export: it goes
    CHECK(exporter.stats().messages == 1);
    second.on_flows(batch, t0 + kSecond / 2, alerts);
    second.flush(t0 + kSecond / 2);  // half a second later: it waits
    CHECK(exporter.stats().messages == 1);
    second.finish(alerts);
    second.flush(t0 + kSecond / 2);  // the end: everything leaves
    CHECK(exporter.stats().messages == 2);
    CHECK(exporter.stats().records == 6);
    std::uint8_t buffer[2048];
    int received = 0;
    while (::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT) > 0) ++received;
    CHECK(received == 2);
    ::close(fd);
}
