#pragma once
// Test doubles for the pipeline's seams (core/stage.hpp): a source that delivers prepared units, a stage
// that records what it was given and in which order, an alert sink that keeps what it got, a metric sink.
#include <flowguard/core/counters.hpp>
#include <flowguard/core/stage.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace flowguard::testing {

// One unit of input as a source delivers it.
struct Unit {
    std::vector<DnsEvent> dns;
    std::vector<FlowRecord> flows;
    std::uint64_t now_ns = 0;
};

class ScriptedSource final : public Source {
public:
    explicit ScriptedSource(std::vector<Unit> units, std::string kind = "recv")
        : units_(std::move(units)), kind_(std::move(kind)) {}
    std::string_view kind() const override { return kind_; }
    void run(const std::atomic<bool>& stop, RecordSink& sink) override {
        for (const auto& unit : units_) {
            if (stop.load()) break;
            sink.deliver(unit.dns, unit.flows, unit.now_ns);
            sink.tick(unit.now_ns);
        }
        wanted_dns = sink.wants_dns();
        sink.tick(UINT64_MAX);
        finished.store(true);
    }
    bool wanted_dns = false;
    std::atomic<bool> finished{false};

private:
    std::vector<Unit> units_;
    std::string kind_;
};

// What a stage saw, call by call: "D<n>" for a DNS batch of n events, "F<n>" for n flows, "finish", "flush".
class RecordingStage final : public Stage {
public:
    explicit RecordingStage(bool wants_dns = true, std::string alert_on_port = "") : wants_dns_(wants_dns) {
        if (!alert_on_port.empty()) alert_port_ = static_cast<std::uint16_t>(std::stoi(alert_on_port));
    }
    void on_dns(std::span<const DnsEvent> events, std::uint64_t now_ns, Alerts&) override {
        calls.push_back("D" + std::to_string(events.size()));
        dns.insert(dns.end(), events.begin(), events.end());
        last_now = now_ns;
    }
    void on_flows(std::span<const FlowRecord> records, std::uint64_t now_ns, Alerts& alerts) override {
        calls.push_back("F" + std::to_string(records.size()));
        flows.insert(flows.end(), records.begin(), records.end());
        last_now = now_ns;
        for (const auto& r : records) {
            if (alert_port_ != 0 && r.dst_port == alert_port_) {
                Alert alert;
                alert.kind = "test";
                alert.severity = Severity::high;
                alert.src_addr = r.src_addr;
                alerts.push_back(alert);
            }
        }
    }
    void flush(std::uint64_t) override { ++flushes; }
    void finish(Alerts&) override { calls.push_back("finish"); }
    void publish() override { ++publishes; }
    bool wants_dns() const override { return wants_dns_; }

    std::vector<std::string> calls;
    std::vector<DnsEvent> dns;
    std::vector<FlowRecord> flows;
    std::uint64_t last_now = 0;
    int flushes = 0;
    int publishes = 0;

private:
    bool wants_dns_;
    std::uint16_t alert_port_ = 0;
};

class CollectingAlertSink final : public AlertSink {
public:
    std::string_view name() const override { return "collect"; }
    void publish(std::span<const Alert> alerts) override {
        std::lock_guard lock(mutex);
        received.insert(received.end(), alerts.begin(), alerts.end());
        ++calls;
    }
    std::mutex mutex;
    std::vector<Alert> received;
    int calls = 0;
};

// What a scrape wrote: "name|label|label" -> value.
class RecordedMetrics final : public MetricSink {
public:
    using MetricSink::add;
    void add(std::string_view name, std::span<const std::string_view> labels, double value) override {
        std::string key(name);
        for (auto l : labels) key += "|" + std::string(l);
        values[key] += value;
    }
    std::map<std::string, double> values;
};

inline FlowRecord flow_from(const char* src, const char* dst, std::uint16_t dst_port = 443, std::uint64_t bytes = 100) {
    FlowRecord r;
    r.src_addr = *IpAddress::parse(src);
    r.dst_addr = *IpAddress::parse(dst);
    r.dst_port = dst_port;
    r.proto = 6;
    r.bytes = bytes;
    return r;
}

inline DnsEvent dns_for(const char* client, const char* name) {
    DnsEvent e;
    e.client = *IpAddress::parse(client);
    e.server = *IpAddress::parse("10.0.0.53");
    e.qname.assign(name);
    return e;
}

}  // namespace flowguard::testing
