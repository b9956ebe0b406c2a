#include <flowguard/exporters/line_output.hpp>

#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

using namespace flowguard;
using namespace flowguard::exporters;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

FlowRecord record(std::uint16_t port) {
    FlowRecord r;
    r.type = FlowType::ipfix;
    r.src_addr = *IpAddress::parse("10.0.0.1");
    r.dst_addr = *IpAddress::parse("198.51.100.1");
    r.proto = 6;
    r.dst_port = port;
    return r;
}

struct TempFile {
    TempFile() {
        char name[] = "/tmp/flowguard-line-output-XXXXXX";
        const int fd = ::mkstemp(name);
        ::close(fd);
        path = name;
    }
    ~TempFile() { std::remove(path.c_str()); }
    std::string path;
};

}  // namespace

TEST_CASE("a flow output shared by several writers: the header once, first; whole lines; buffered until flushed") {
    TempFile file;
    const auto& csv = *find_flow_format("csv");
    LineOutput output(std::string(csv.header) + "\n", open_line_transport(file.path));
    FlowOutputStage first(csv, output), second(csv, output);
    Alerts alerts;
    const std::vector<FlowRecord> batch(10, record(443));
    std::thread a([&] {
        for (int i = 0; i < 50; ++i) first.on_flows(batch, 0, alerts);
        first.flush(0);
    });
    for (int i = 0; i < 50; ++i) second.on_flows(batch, 0, alerts);
    CHECK(output.lines_written() <= 500);  // not flushed yet: a buffer leaves when full or flushed
    second.flush(0);
    a.join();
    CHECK(output.lines_written() == 1000);
    const auto text = read_file(file.path);
    CHECK(text.starts_with(std::string(csv.header) + "\n"));
    std::size_t lines = 0, headers = 0;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        ++lines;
        if (line.starts_with("type,"))
            ++headers;
        else
            CHECK(line.starts_with("IPFIX,"));
    }
    CHECK(lines == 1001);
    CHECK(headers == 1);
}

TEST_CASE("an output to a full disk fails, is counted as not written and says so") {
    const int fd = ::open("/dev/full", O_WRONLY);
    REQUIRE(fd >= 0);
    LineOutput output("", std::make_unique<FdTransport>(fd, "/dev/full", true));
    FlowOutputStage stage(*find_flow_format("json"), output);
    Alerts alerts;
    const std::vector<FlowRecord> batch(3, record(80));
    stage.on_flows(batch, 0, alerts);
    stage.flush(0);
    CHECK(output.failed());
    CHECK(output.lines_written() == 0);
}

TEST_CASE("an output that cannot be opened is an error naming it") {
    CHECK_THROWS_WITH_AS(open_line_transport("/nonexistent-dir/x.jsonl"), doctest::Contains("/nonexistent-dir/x.jsonl"),
                         std::runtime_error);
}

TEST_CASE("the alert log writes one JSON line per alert and counts them; the DNS log one per event") {
    TempFile alerts_file, dns_file;
    LineOutput alert_lines("", open_line_transport(alerts_file.path));
    AlertLog log(alert_lines);
    Alert a;
    a.id = "x@1";
    a.kind = "beacon";
    a.dedup_key = "x";
    log.publish(std::vector<Alert>{a, a});
    CHECK(log.alerts_written() == 2);
    const auto text = read_file(alerts_file.path);
    CHECK(std::count(text.begin(), text.end(), '\n') == 2);
    CHECK(text.find(R"("kind":"beacon")") != std::string::npos);

    LineOutput dns_lines("", open_line_transport(dns_file.path));
    DnsLogStage dns(dns_lines);
    CHECK(dns.wants_dns());
    DnsEvent e;
    e.qname.assign("a.example");
    Alerts none;
    dns.on_dns(std::vector<DnsEvent>{e, e, e}, 0, none);
    dns.flush(0);
    CHECK(dns_lines.lines_written() == 3);
    CHECK(read_file(dns_file.path).find(R"("qname":"a.example")") != std::string::npos);
}

TEST_CASE("flow formats are chosen by name; none is no output, anything else is unknown") {
    CHECK(find_flow_format("json")->name == "json");
    CHECK(find_flow_format("csv")->header == flow_csv_header());
    CHECK(find_flow_format("none") == nullptr);
    CHECK(known_flow_format("none"));
    CHECK_FALSE(known_flow_format("xml"));
    CHECK(flow_format_names() == "json, csv, none");
}
