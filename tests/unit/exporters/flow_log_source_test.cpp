#include <flowguard/exporters/flow_log_source.hpp>

#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <log_capture.hpp>
#include <string>
#include <vector>

using namespace flowguard;
using namespace flowguard::exporters;

namespace {

struct TempFile {
    explicit TempFile(const std::string& text) {
        char name[] = "/tmp/flowguard-log-XXXXXX";
        const int fd = ::mkstemp(name);
        ::close(fd);
        path = name;
        std::ofstream(path) << text;
    }
    ~TempFile() { std::remove(path.c_str()); }
    std::string path;
};

// What a source delivered: "D<n>F<m>" per call, and the records.
class Delivered final : public RecordSink {
public:
    void deliver(std::span<const DnsEvent> dns, std::span<const FlowRecord> flows, std::uint64_t) override {
        calls.push_back("D" + std::to_string(dns.size()) + "F" + std::to_string(flows.size()));
        events.insert(events.end(), dns.begin(), dns.end());
        records.insert(records.end(), flows.begin(), flows.end());
    }
    std::vector<std::string> calls;
    std::vector<DnsEvent> events;
    std::vector<FlowRecord> records;
};

void run(FlowLogSource& source, RecordSink& sink) {
    const std::atomic<bool> stop{false};
    source.run(stop, sink);
}

}  // namespace

TEST_CASE("a JSON-lines log: flows and DNS events in file order, batched; broken lines counted, not fatal") {
    const TempFile log(
        "{\"type\":\"IPFIX\",\"src_addr\":\"10.0.0.1\",\"dst_addr\":\"198.51.100.1\",\"proto\":\"TCP\",\"bytes\":10}\n"
        "\n"
        "{\"time_ns\":5,\"type\":\"query\",\"client\":\"10.0.0.1\",\"server\":\"10.0.0.53\",\"qname\":\"a.example\"}\n"
        "{not json\n"
        "{\"src_addr\":\"10.0.0.1\",\"dst_addr\":\"zzz\"}\n"
        "[1,2]\n"
        "{\"type\":\"SFLOW_5\",\"src_addr\":\"10.0.0.2\",\"dst_addr\":\"198.51.100.2\",\"proto\":\"GRE\"}\n");
    FlowLogCounters counters;
    FlowLogSource source(log.path, counters);
    Delivered sink;
    run(source, sink);
    CHECK(source.opened());
    CHECK(counters.json_lines == 6);
    CHECK(counters.json_errors == 3);
    // The flow before the answer, then the answer with the flow after it: the order of the file.
    CHECK(sink.calls == std::vector<std::string>{"D0F1", "D1F1"});
    REQUIRE(sink.records.size() == 2);
    CHECK(sink.records[1].type == FlowType::sflow5);
    CHECK(sink.records[1].proto == 47);
    CHECK(sink.events.at(0).qname.view() == "a.example");
}

TEST_CASE("a CSV log as flowguard writes it, header first; sniffing tells logs from captures") {
    const TempFile csv(
        "type,time_received_ns,src_addr,dst_addr,proto,bytes\n"
        "METER,1,10.0.0.1,198.51.100.1,6,100\n"
        "METER,2,10.0.0.1,198.51.100.1,17\n"
        "METER,3,10.0.0.1,198.51.100.1,58,300\n");
    CHECK(sniff_log_format(csv.path) == LogFormat::csv);
    FlowLogCounters counters;
    FlowLogSource source(csv.path, counters);
    Delivered sink;
    run(source, sink);
    CHECK(counters.csv_lines == 3);
    CHECK(counters.csv_errors == 1);
    REQUIRE(sink.records.size() == 2);
    CHECK(sink.records[1].proto == 58);
    CHECK(sink.records[1].bytes == 300);

    const TempFile json("  \n{\"a\":1}\n");
    CHECK(sniff_log_format(json.path) == LogFormat::json_lines);
    const TempFile capture(std::string("\xd4\xc3\xb2\xa1", 4));
    CHECK(sniff_log_format(capture.path) == LogFormat::other);
    CHECK(sniff_log_format("/nonexistent") == LogFormat::other);
    FlowLogSource missing("/nonexistent", counters);
    run(missing, sink);
    CHECK_FALSE(missing.opened());
}

TEST_CASE("a log whose first line is cut, or that starts with a BOM, is still JSON lines; its good lines count") {
    const std::string flow =
        "{\"type\":\"IPFIX\",\"src_addr\":\"10.0.0.1\",\"dst_addr\":\"198.51.100.1\",\"proto\":\"TCP\"}\n";
    const TempFile cut("0.1\",\"dst_addr\":\"198.51.100.9\",\"proto\":\"UDP\"}\n" + flow + flow);
    const TempFile bom("\xEF\xBB\xBF" + flow + flow);
    const TempFile bom_crlf("\xEF\xBB\xBF" + flow.substr(0, flow.size() - 1) + "\r\n");
    CHECK(sniff_log_format(cut.path) == LogFormat::json_lines);
    CHECK(sniff_log_format(bom.path) == LogFormat::json_lines);
    test::LogCapture log;
    FlowLogCounters counters;
    for (const auto* file : {&cut, &bom, &bom_crlf}) {
        FlowLogSource source(file->path, counters);
        Delivered sink;
        run(source, sink);
    }
    CHECK(counters.json_lines == 6);
    CHECK(counters.json_errors == 1);  // the cut line, named with file:line at warning level
    CHECK(log.str().find(cut.path + ":1: line skipped") != std::string::npos);
    CHECK(log.str().find("[warning]") != std::string::npos);
}

TEST_CASE("an object without both addresses is not a flow; a capture or binary data is not a log") {
    const TempFile log(
        "{}\n{\"src_addr\":\"10.0.0.1\"}\n{\"src_addr\":\"10.0.0.1\",\"dst_addr\":\"\"}\n"
        "{\"src_addr\":\"10.0.0.1\",\"dst_addr\":\"zzz\"}\n"
        "{\"src_addr\":\"10.0.0.1\",\"dst_addr\":\"10.0.0.2\"}\n{}\n{}\n{}\n");
    FlowLogCounters counters;
    FlowLogSource source(log.path, counters);
    Delivered sink;
    test::LogCapture capture;
    run(source, sink);
    CHECK(sink.records.size() == 1);
    CHECK(counters.json_errors == 7);
    CHECK(capture.str().find(log.path + ":1: line skipped: src_addr: missing") != std::string::npos);
    CHECK(capture.str().find(log.path + ":6: line skipped") != std::string::npos);  // the fifth skipped
    CHECK(capture.str().find(log.path + ":7: line skipped") == std::string::npos);  // then only a total
    CHECK(capture.str().find("7 lines skipped in all") != std::string::npos);
    const TempFile binary(std::string("\xd4\xc3\xb2\xa1\x02\x00\x04\x00\n{\"a\":1}\n", 18));
    CHECK(sniff_log_format(binary.path) == LogFormat::other);
}
