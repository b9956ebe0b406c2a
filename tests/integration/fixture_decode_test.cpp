// Real exporter captures (Cisco IOS-XE/XR, Juniper, Huawei, ipfixprobe; see tests/fixtures/README.md) must
// decode completely: as many data records as tshark 4.0.17 decodes from them, no errors, nothing left
// waiting for a template.
#include <flowguard/collector/flow_decoder.hpp>
#include <flowguard/collector/pcap_datagrams.hpp>

#include <doctest/doctest.h>

#include <fixtures.hpp>
#include <string>
#include <vector>

using namespace flowguard;

namespace {

struct Decoded {
    std::vector<FlowRecord> records;
    std::uint64_t data_records = 0;  // flow + options data records, as tshark counts them
    collector::DecoderTotals totals;
};

Decoded decode_files(const std::vector<std::string>& files) {
    collector::FlowDecoder decoder(CollectorConfig{});
    Decoded d;
    for (const auto& f : files) {
        collector::PcapDatagramReader reader(test::fixture(f));
        collector::ExportPacket packet;
        std::uint16_t port = 0;
        while (reader.next(packet, port)) decoder.decode(packet, d.records);
    }
    decoder.finish();
    d.totals = decoder.totals();
    decoder.for_each_stream([&](const collector::StreamKey&, const collector::ExporterStats& s) {
        d.data_records += s.records + s.options_records;
    });
    return d;
}

struct Case {
    std::vector<std::string> files;  // templates first, as the capture README says
    std::uint64_t tshark_data_records;
};

}  // namespace

TEST_CASE("real exporter captures decode with tshark's record counts") {
    const std::string a = "akvorado/netflow/";
    const std::vector<Case> cases{
        // tshark's 11 are the options record and the second data set's 10 records. The first data set
        // (11 records) precedes its template in the same packet: we hold it until the template and decode it.
        {{a + "data+templates.pcap"}, 22},
        {{a + "template.pcap", a + "data.pcap"}, 4},
        {{a + "datalink-template.pcap", a + "datalink-data.pcap"}, 1},
        {{a + "ethernet-over-mpls-with-control-word-template.pcap",
          a + "ethernet-over-mpls-with-control-word-data.pcap"},
         10},
        {{a + "icmp-template.pcap", a + "icmp-data.pcap"}, 4},
        {{a + "ipfix-srv6-template.pcap", a + "ipfix-srv6-data.pcap"}, 1},
        {{a + "ipfixprobe-templates.pcap", a + "ipfixprobe-data.pcap"}, 4},
        {{a + "juniper-cpid-template.pcap", a + "juniper-cpid-data.pcap"}, 1},
        {{a + "mpls.pcap"}, 3},
        {{a + "multiplesamplingrates-template.pcap", a + "multiplesamplingrates-options-template.pcap",
          a + "multiplesamplingrates-options-data.pcap", a + "multiplesamplingrates-data.pcap"},
         14},
        {{a + "nat.pcap"}, 9},
        {{a + "nfv5.pcap"}, 29},
        {{a + "options-template.pcap", a + "options-data.pcap"}, 4},
        {{a + "physicalinterfaces.pcap"}, 9},
        {{a + "samplingrate-template.pcap", a + "samplingrate-data.pcap"}, 6},
        {{"pmacct/100-IPFIXv10-CISCO/traffic-00.pcap"}, 12},
        {{"pmacct/101-NFv9-CISCO-cust_primitives/traffic-00.pcap"}, 51},
        {{"pmacct/102-NFv9-CISCO-f2rd-pretag-sampling-reload/traffic-00.pcap"}, 35},
        {{"pmacct/104-IPFIXv10-IPv6-CISCO-sampling_option/traffic-00.pcap"}, 4},
        {{"pmacct/106-IPFIXv10-HUAWEI-vrf_name/traffic-00.pcap"}, 4},
        {{"pmacct/111-IPFIXv10-NFv9-IPv6-IPv4-mix_sources/traffic-00.pcap"}, 11},
        {{"pmacct/111-IPFIXv10-NFv9-IPv6-IPv4-mix_sources/traffic-01.pcap"}, 13},
    };
    for (const auto& c : cases) {
        CAPTURE(c.files.back());
        const auto d = decode_files(c.files);
        CHECK(d.data_records == c.tshark_data_records);
        CHECK(d.totals.decode_errors == 0);
        CHECK(d.totals.unknown_template == 0);
    }
}

TEST_CASE("sampling rates come from options data, as pmacct renormalises them") {
    // pmacct's expected output for test 104 reports 256 packets for a 1-packet flow: 1-in-256 sampling.
    const auto d = decode_files({"pmacct/104-IPFIXv10-IPv6-CISCO-sampling_option/traffic-00.pcap"});
    REQUIRE(d.records.size() == 3);
    for (const auto& r : d.records) CHECK(r.sampling_rate == 256);
    CHECK(d.records[0].packets * d.records[0].sampling_rate == 256);
    CHECK(d.records[0].bytes * d.records[0].sampling_rate == 18432);

    // Cisco's per-sampler rates: sampler ids map to 1-in-4000 and 1-in-2000 (akvorado's expectations).
    const std::string a = "akvorado/netflow/";
    const auto m =
        decode_files({a + "multiplesamplingrates-template.pcap", a + "multiplesamplingrates-options-template.pcap",
                      a + "multiplesamplingrates-options-data.pcap", a + "multiplesamplingrates-data.pcap"});
    REQUIRE(m.records.size() == 12);
    CHECK(m.records[0].sampling_rate == 4000);
    CHECK(m.records[1].sampling_rate == 2000);
}

TEST_CASE("IPv6 exporters and both versions from one exporter are told apart") {
    const auto d = decode_files({"pmacct/111-IPFIXv10-NFv9-IPv6-IPv4-mix_sources/traffic-00.pcap",
                                 "pmacct/111-IPFIXv10-NFv9-IPv6-IPv4-mix_sources/traffic-01.pcap"});
    CHECK(d.data_records == 24);
    bool v4 = false;
    bool v6 = false;
    for (const auto& r : d.records) {
        v4 = v4 || r.src_addr.is_v4();
        v6 = v6 || r.src_addr.is_v6();
    }
    CHECK(v4);
    CHECK(v6);
}
