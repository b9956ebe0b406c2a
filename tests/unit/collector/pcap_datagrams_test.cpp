#include <flowguard/collector/flow_decoder.hpp>
#include <flowguard/collector/pcap_datagrams.hpp>

#include <doctest/doctest.h>

#include <fixtures.hpp>

using namespace flowguard;

TEST_CASE("UDP datagrams come out of a capture with exporter address, port and capture time") {
    collector::PcapDatagramReader reader(test::fixture("akvorado/netflow/nfv5.pcap"));
    collector::ExportPacket packet;
    std::uint16_t dport = 0;
    REQUIRE(reader.next(packet, dport));
    CHECK(dport == 9990);
    CHECK(packet.exporter.to_string() == "10.19.144.41");
    CHECK(packet.exporter_port == 40000);
    CHECK(packet.payload.size() == 24 + 29 * 48);
    CHECK(packet.received_ns == 1'680'655'485'099'595'000ull);
    CHECK_FALSE(reader.next(packet, dport));
    CHECK(reader.stats().frames == 1);
}

TEST_CASE("a missing or damaged capture is a clear error") {
    CHECK_THROWS_WITH_AS(collector::PcapDatagramReader("/nonexistent.pcap"), doctest::Contains("/nonexistent.pcap"),
                         std::runtime_error);
    CHECK_THROWS_AS(collector::PcapDatagramReader(test::fixture("pmacct/COPYING")), std::runtime_error);
}
