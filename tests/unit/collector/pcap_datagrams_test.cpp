#include <flowguard/collector/flow_decoder.hpp>
#include <flowguard/collector/pcap_datagrams.hpp>

#include <doctest/doctest.h>

#include <cstdio>
#include <fixtures.hpp>
#include <fstream>
#include <iterator>
#include <string>

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

TEST_CASE("a capture cut short ends with libpcap's reason after the datagrams before the cut") {
    const std::string cut = "/tmp/flowguard-cut-short.pcap";
    {
        std::ifstream in(test::fixture("corpus/beacon-pmacctd-v9.pcap"), std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        REQUIRE(bytes.size() > 8000);
        std::ofstream(cut, std::ios::binary).write(bytes.data(), 8000);
    }
    collector::PcapDatagramReader reader(cut);
    collector::ExportPacket packet;
    std::uint16_t dport = 0;
    std::uint64_t datagrams = 0;
    while (reader.next(packet, dport)) ++datagrams;
    std::remove(cut.c_str());
    CHECK(datagrams > 0);
    CHECK(reader.error().find("truncated dump file") != std::string::npos);

    collector::PcapDatagramReader whole(test::fixture("corpus/beacon-pmacctd-v9.pcap"));
    while (whole.next(packet, dport)) {
    }
    CHECK(whole.error().empty());
}
