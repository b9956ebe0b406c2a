#include <flowguard/exporters/line_output.hpp>

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <file_contents.hpp>
#include <log_capture.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace flowguard;
using namespace flowguard::exporters;

namespace {

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
    LineOutput output("flows", open_line_transport(file.path, std::string(csv.header) + "\n"));
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
    const auto text = test::file_contents(file.path);
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

using test::LogCapture;

TEST_CASE("an output to a full disk counts its lost lines and logs why, once, then again when it works") {
    LogCapture log;
    const int fd = ::open("/dev/full", O_WRONLY);
    REQUIRE(fd >= 0);
    LineOutput output("flows", std::make_unique<FdTransport>(fd, "/dev/full", true));
    FlowOutputStage stage(*find_flow_format("json"), output);
    Alerts alerts;
    const std::vector<FlowRecord> batch(3, record(80));
    for (int i = 0; i < 4; ++i) {
        stage.on_flows(batch, 0, alerts);
        stage.flush(0);
    }
    CHECK(output.failed());
    const auto counters = output.counters();
    CHECK(counters.lines_written == 0);
    CHECK(counters.lines_lost == 12);
    CHECK(counters.write_errors == 4);
    const auto text = log.str();
    CHECK(text.find("flows output /dev/full: write failed: No space left on device; 3 lines lost") !=
          std::string::npos);
    CHECK(text.find("write failed", text.find("write failed") + 1) == std::string::npos);  // once a minute at most
}

TEST_CASE("an output that works again says so, and its header is written before its first lines") {
    LogCapture log;
    struct Flaky final : LineTransport {
        std::string name = "flaky", text;
        int fail = 0;
        const std::string& target() const override { return name; }
        int write(std::string_view lines) override {
            if (fail-- > 0) return EPIPE;
            text += lines;
            return 0;
        }
        void reopen() override {}
    };
    auto transport = std::make_unique<Flaky>();
    auto& flaky = *transport;
    flaky.fail = 1;
    LineOutput output("alerts", std::move(transport));
    AlertLog sink(output);
    Alert a;
    a.id = "x@1";
    sink.publish(std::vector<Alert>{a});
    sink.publish(std::vector<Alert>{a, a});
    CHECK(output.lines_lost() == 1);
    CHECK(output.lines_written() == 2);
    CHECK(std::count(flaky.text.begin(), flaky.text.end(), '\n') == 2);
    CHECK(log.str().find("alerts output flaky: write failed: Broken pipe; 1 lines lost") != std::string::npos);
    CHECK(log.str().find("alerts output flaky: writing again; 1 lines lost in all") != std::string::npos);
}

TEST_CASE("a CSV header leads a new file only: appending to an earlier run's file adds none") {
    TempFile file;
    const auto& csv = *find_flow_format("csv");
    const std::string header = std::string(csv.header) + "\n";
    for (int run = 0; run < 2; ++run) {
        LineOutput output("flows", open_line_transport(file.path, header));
        FlowOutputStage stage(csv, output);
        Alerts alerts;
        stage.on_flows(std::vector<FlowRecord>{record(443)}, 0, alerts);
        stage.flush(0);
    }
    const auto text = test::file_contents(file.path);
    CHECK(text.starts_with(header));
    CHECK(text.find("\ntype,") == std::string::npos);
    CHECK(std::count(text.begin(), text.end(), '\n') == 3);
}

TEST_CASE("reopen after the file was moved away (logrotate): new lines go to a new file, with its header") {
    TempFile file;
    const std::string moved = file.path + ".1";
    const auto& csv = *find_flow_format("csv");
    LineOutput output("flows", open_line_transport(file.path, std::string(csv.header) + "\n"));
    FlowOutputStage stage(csv, output);
    Alerts alerts;
    stage.on_flows(std::vector<FlowRecord>{record(443), record(443)}, 0, alerts);
    stage.flush(0);
    REQUIRE(std::rename(file.path.c_str(), moved.c_str()) == 0);
    output.reopen();
    stage.on_flows(std::vector<FlowRecord>{record(80)}, 0, alerts);
    stage.flush(0);
    const auto old_text = test::file_contents(moved), new_text = test::file_contents(file.path);
    std::remove(moved.c_str());
    CHECK(std::count(old_text.begin(), old_text.end(), '\n') == 3);
    CHECK(new_text.starts_with("type,"));
    CHECK(std::count(new_text.begin(), new_text.end(), '\n') == 2);
    CHECK(new_text.find(",80,") != std::string::npos);
    CHECK(output.counters().reopens == 1);
}

TEST_CASE("a reopen that fails keeps the old file and says why") {
    LogCapture log;
    TempFile file;
    LineOutput output("alerts", open_line_transport(file.path));
    std::remove(file.path.c_str());
    REQUIRE(::mkdir(file.path.c_str(), 0700) == 0);  // a directory where the file was: EISDIR, even for root
    output.reopen();
    ::rmdir(file.path.c_str());
    CHECK(log.str().find("alerts output: not reopened, the previous file stays in use") != std::string::npos);
    CHECK(log.str().find("Is a directory") != std::string::npos);
    CHECK(output.counters().reopens == 0);
}

TEST_CASE("an output that cannot be opened is an error naming it") {
    CHECK_THROWS_WITH_AS(open_line_transport("/nonexistent-dir/x.jsonl"), doctest::Contains("/nonexistent-dir/x.jsonl"),
                         std::runtime_error);
}

TEST_CASE("the alert log writes one JSON line per alert and counts them; the DNS log one per event") {
    TempFile alerts_file, dns_file;
    LineOutput alert_lines("alerts", open_line_transport(alerts_file.path));
    AlertLog log(alert_lines);
    Alert a;
    a.id = "x@1";
    a.kind = "beacon";
    a.dedup_key = "x";
    log.publish(std::vector<Alert>{a, a});
    CHECK(log.alerts_written() == 2);
    const auto text = test::file_contents(alerts_file.path);
    CHECK(std::count(text.begin(), text.end(), '\n') == 2);
    CHECK(text.find(R"("kind":"beacon")") != std::string::npos);

    LineOutput dns_lines("dns", open_line_transport(dns_file.path));
    DnsLogStage dns(dns_lines);
    CHECK(dns.wants_dns());
    DnsEvent e;
    e.qname.assign("a.example");
    Alerts none;
    dns.on_dns(std::vector<DnsEvent>{e, e, e}, 0, none);
    dns.flush(0);
    CHECK(dns_lines.lines_written() == 3);
    CHECK(test::file_contents(dns_file.path).find(R"("qname":"a.example")") != std::string::npos);
}

TEST_CASE("flow formats are chosen by name; none is no output, anything else is unknown") {
    CHECK(find_flow_format("json")->name == "json");
    CHECK(find_flow_format("csv")->header == flow_csv_header());
    CHECK(find_flow_format("none") == nullptr);
    CHECK(known_flow_format("none"));
    CHECK_FALSE(known_flow_format("xml"));
    CHECK(flow_format_names() == "json, csv, none");
}

namespace {
// Keeps the size of every write, and the lines.
class RecordingTransport final : public LineTransport {
public:
    const std::string& target() const override { return target_; }
    int write(std::string_view lines) override {
        sizes.push_back(lines.size());
        text.append(lines);
        return 0;
    }
    void reopen() override {}
    std::vector<std::size_t> sizes;
    std::string text;

private:
    std::string target_ = "recording";
};
}  // namespace

TEST_CASE("one call with a capture's worth of records is written in bounded pieces, every line in order") {
    // A meter hands every flow still open at the end of a capture to the output in one call: formatting
    // them all before the first write grew one buffer of the whole output (156 MB for one capture).
    auto transport = std::make_unique<RecordingTransport>();
    auto& recording = *transport;
    LineOutput output("flows", std::move(transport));
    FlowOutputStage stage(*find_flow_format("json"), output);
    Alerts alerts;
    std::vector<FlowRecord> records;
    for (std::uint16_t i = 0; i < 5000; ++i) records.push_back(record(i));
    stage.on_flows(records, 0, alerts);
    stage.flush(0);
    REQUIRE_FALSE(recording.sizes.empty());
    const std::size_t line = recording.text.size() / records.size();
    for (const auto size : recording.sizes) CHECK(size <= LineBuffer::kFlushBytes + 64 * (line + 64));
    CHECK(output.counters().lines_written == 5000);
    std::size_t at = 0;
    for (std::uint16_t i = 0; i < 5000; ++i) {
        const auto found = recording.text.find(fmt::format("\"dst_port\":{},", i), at);
        REQUIRE(found != std::string::npos);
        at = found;
    }
}

TEST_CASE("the DNS log writes a large call in the same bounded pieces, every event in order") {
    auto transport = std::make_unique<RecordingTransport>();
    auto& recording = *transport;
    LineOutput output("dns", std::move(transport));
    DnsLogStage stage(output);
    Alerts alerts;
    std::vector<DnsEvent> events(3000);
    for (std::uint16_t i = 0; i < events.size(); ++i) {
        events[i].id = i;
        events[i].qname.assign("a.example");
    }
    stage.on_dns(events, 0, alerts);
    stage.flush(0);
    REQUIRE(recording.sizes.size() > 1);
    const std::size_t line = recording.text.size() / events.size();
    for (const auto size : recording.sizes) CHECK(size <= LineBuffer::kFlushBytes + 64 * (line + 64));
    CHECK(output.counters().lines_written == 3000);
    std::size_t at = 0;
    for (std::uint16_t i = 0; i < events.size(); ++i) {
        const auto found = recording.text.find(fmt::format("\"id\":{},", i), at);
        REQUIRE(found != std::string::npos);
        at = found;
    }
}
