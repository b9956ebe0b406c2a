#pragma once
// IPFIX export of flow records (RFC 7011), so flowguard's meter can stand where softflowd or nProbe stands,
// in front of an existing collector. Two templates (IPv4: 256, IPv6: 257) with absolute millisecond times,
// delta counters, ports, protocol, TCP flags, ToS, ICMP type/code, VLAN and the flow end reason. Messages
// stay under `max_message` bytes (one path MTU by default); templates go out in the first message and again
// every `template_refresh` of export time, as RFC 7011 section 8.4 asks of UDP exporters; the sequence number
// counts data records per observation domain.
#include <flowguard/core/flow_record.hpp>
#include <flowguard/core/stage.hpp>

#include <boost/json/object.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace flowguard::exporters {

struct IpfixEncoderOptions {
    std::uint32_t observation_domain = 1;
    std::size_t max_message = 1400;                             // bytes; a data set holds as many records as fit
    std::uint64_t template_refresh_ns = 60ull * 1'000'000'000;  // of export time
};

struct IpfixEncoderStats {
    std::uint64_t messages = 0;
    std::uint64_t records = 0;
    std::uint64_t template_sets = 0;
    std::uint64_t skipped = 0;  // records without IP addresses (nothing an IPFIX collector could key)
};

class IpfixEncoder {
public:
    using Send = std::function<void(std::span<const std::uint8_t> message)>;
    IpfixEncoder(IpfixEncoderOptions options, Send send);

    // Adds a record; `export_ns` is the export time (wall clock live, capture time for files). Sends the
    // message of the record's family when it is full.
    void add(const FlowRecord& record, std::uint64_t export_ns);
    // Sends what is pending.
    void flush(std::uint64_t export_ns);

    const IpfixEncoderStats& stats() const noexcept { return stats_; }

private:
    struct Pending {
        std::uint16_t template_id = 0;
        std::size_t record_size = 0;
        std::vector<std::uint8_t> data;  // data set records, without the set header
        std::uint32_t count = 0;
    };
    void send(Pending& pending, std::uint64_t export_ns);
    void append_templates(std::vector<std::uint8_t>& message) const;

    IpfixEncoderOptions options_;
    Send send_;
    std::array<Pending, 2> pending_;  // [0] IPv4, [1] IPv6
    std::vector<std::uint8_t> message_;
    std::uint32_t sequence_ = 0;
    std::uint64_t templates_sent_ns_ = 0;
    bool templates_sent_ = false;
    IpfixEncoderStats stats_;
};

// UDP transport for the encoder: one connected socket to the collector. Send errors (no collector
// listening yet, a full socket buffer) are counted, never fatal: a later message goes out when it can.
// Shared by the export stages of every shard (one sequence space): calls are serialised, per batch.
class IpfixUdpExporter {
public:
    // `target` is udp://HOST:PORT (IPv4 or IPv6 literal, or a name resolved once here). Throws
    // std::runtime_error naming the target.
    IpfixUdpExporter(const std::string& target, IpfixEncoderOptions options);
    ~IpfixUdpExporter();
    IpfixUdpExporter(const IpfixUdpExporter&) = delete;
    IpfixUdpExporter& operator=(const IpfixUdpExporter&) = delete;

    void add(std::span<const FlowRecord> records, std::uint64_t export_ns);
    void add(const FlowRecord& record, std::uint64_t export_ns) { add({&record, 1}, export_ns); }
    // Sends what is pending when the last send is `older_than_ns` old (0: always).
    void flush(std::uint64_t export_ns, std::uint64_t older_than_ns = 0);

    IpfixEncoderStats stats() const;
    std::uint64_t send_errors() const;
    // The meter's summary: ipfix_messages, ipfix_records, ipfix_send_errors.
    void summarize(boost::json::object& summary) const;

private:
    int fd_ = -1;
    mutable std::mutex mutex_;
    std::uint64_t send_errors_ = 0;
    std::uint64_t flushed_ns_ = 0;
    IpfixEncoder encoder_;
};

// Re-exports a shard's records (`meter --export`): partly filled messages leave once a second and at the end.
class IpfixExportStage final : public Stage {
public:
    explicit IpfixExportStage(IpfixUdpExporter& exporter) : exporter_(exporter) {}
    void on_flows(std::span<const FlowRecord> records, std::uint64_t now_ns, Alerts& alerts) override;
    void finish(Alerts&) override { finished_ = true; }
    void flush(std::uint64_t now_ns) override;

private:
    IpfixUdpExporter& exporter_;
    bool finished_ = false;
};

}  // namespace flowguard::exporters
