#include <flowguard/collector/capture_file_source.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <string>
#include <vector>

using namespace flowguard;

namespace {

std::string fixture(const std::string& name) {
    const char* root = std::getenv("FLOWGUARD_FIXTURES");
    REQUIRE(root != nullptr);
    return std::string(root) + "/" + name;
}

class Delivered final : public RecordSink {
public:
    explicit Delivered(bool dns = true) : dns_(dns) {}
    void deliver(std::span<const DnsEvent> dns, std::span<const FlowRecord> flows, std::uint64_t now_ns) override {
        dns_events += dns.size();
        records += flows.size();
        largest = std::max(largest, flows.size());
        ++calls;
        clock_went_back = clock_went_back || now_ns < last_now;
        last_now = now_ns;
    }
    void tick(std::uint64_t now_ns) override { last_tick = now_ns; }
    bool wants_dns() const override { return dns_; }
    std::size_t dns_events = 0, records = 0, largest = 0, calls = 0;
    std::uint64_t last_now = 0, last_tick = 0;
    bool clock_went_back = false;

private:
    bool dns_;
};

void run(collector::CaptureFileSource& source, RecordSink& sink) {
    const std::atomic<bool> stop{false};
    source.run(stop, sink);
}

}  // namespace

TEST_CASE("capture files as flow exports: every decoded record delivered, in batches; other ports skipped") {
    collector::CaptureFileCounters counters;
    collector::CaptureFileSource source({fixture("corpus/beacon-softflowd-ipfix.pcap")}, {}, {},
                                        {collector::CaptureContent::exports, {}, {}}, counters);
    Delivered sink;
    run(source, sink);
    CHECK_FALSE(source.failed());
    CHECK(sink.records == 294);
    CHECK(sink.records == source.decoder().totals().records);
    CHECK(sink.calls < 10);  // 11 datagrams of ~27 records gathered into batches, not one call per record
    CHECK(sink.last_tick == UINT64_MAX);
    CHECK(source.capture_stats().udp_datagrams == 11);

    collector::CaptureFileSource filtered({fixture("corpus/beacon-softflowd-ipfix.pcap")}, {}, {},
                                          {collector::CaptureContent::exports, std::uint16_t{1}, {}}, counters);
    Delivered none;
    run(filtered, none);
    CHECK(none.records == 0);
    CHECK(counters.skipped_by_port == 11);
}

TEST_CASE("capture files as traffic: metered flows and passive DNS; several files are one capture") {
    collector::CaptureFileCounters counters;
    const auto mixed = fixture("corpus/mixed.pcap");
    collector::CaptureFileSource one({mixed}, {}, {}, {collector::CaptureContent::traffic, {}, {}}, counters);
    Delivered sink;
    run(one, sink);
    CHECK(sink.records == 15);  // as `flowguard meter` and the generator's truth
    CHECK(sink.dns_events == 4);
    CHECK(one.meter_stats().dns_messages == 4);
    CHECK_FALSE(sink.clock_went_back);  // capture time is the clock
    // The same capture twice, read as one: the second copy's packets join the first copy's flows (same
    // 5-tuples, within the idle timeout), so there are not twice as many records.
    collector::CaptureFileSource twice({mixed, mixed}, {}, {}, {collector::CaptureContent::traffic, {}, {}}, counters);
    Delivered both;
    run(twice, both);
    CHECK(both.records < 30);
    CHECK(both.dns_events == 8);
}

TEST_CASE("capture files for analyze: exports decoded, traffic metered, packet by packet, each file afresh") {
    collector::CaptureFileCounters counters;
    collector::CaptureFileSource sflow({fixture("corpus/pmacctd_sflow_mixed.pcap"), fixture("corpus/lateral.pcap")}, {},
                                       {}, {collector::CaptureContent::mixed, {}, {}}, counters);
    Delivered sink;
    run(sflow, sink);
    CHECK(counters.export_datagrams == 9);
    CHECK(counters.packets == 9 + 94);
    CHECK(sink.dns_events == 4);     // DNS answers in sFlow packet samples
    CHECK(sink.records == 59 + 80);  // sFlow samples, then lateral.pcap metered
    Delivered no_dns(false);
    collector::CaptureFileSource quiet({fixture("corpus/pmacctd_sflow_mixed.pcap")}, {}, {},
                                       {collector::CaptureContent::mixed, {}, {}}, counters);
    run(quiet, no_dns);
    CHECK(no_dns.dns_events == 0);
}

TEST_CASE("a capture file that cannot be read is reported and skipped; the others are read") {
    collector::CaptureFileCounters counters;
    collector::CaptureFileSource source({"/nonexistent.pcap", fixture("corpus/mixed.pcap")}, {}, {},
                                        {collector::CaptureContent::traffic, {}, {}}, counters);
    Delivered sink;
    run(source, sink);
    CHECK(source.failed());
    CHECK(sink.records == 15);
}
