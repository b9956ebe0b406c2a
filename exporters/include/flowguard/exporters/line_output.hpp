#pragma once
// Text-line outputs: a format's lines to a transport. One LineOutput per destination (the flow output, the DNS
// log, the alert log) is shared by its writers, one per shard (or the runner's one), which buffer whole lines
// and hand over ~64 KiB at a time, so the transport's lock is taken per buffer and never per line.
#include <flowguard/core/counters.hpp>
#include <flowguard/core/stage.hpp>
#include <flowguard/exporters/flow_format.hpp>
#include <flowguard/exporters/line_transport.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace flowguard::exporters {

// What happened to one output's lines (summed over its writers), for the summary and /metrics.
struct LineOutputCounters {
    std::uint64_t lines_written = 0;
    std::uint64_t lines_lost = 0;    // in writes that failed: never written anywhere
    std::uint64_t write_errors = 0;  // failed writes (each loses one buffer of lines)
    std::uint64_t reopens = 0;       // SIGHUP reopened the target
};
inline constexpr CounterTable<LineOutputCounters, 4> kLineOutputCounters{{
    {"written", &counter_ref<&LineOutputCounters::lines_written>, Merge::sum, "flowguard_output_lines_total",
     MetricType::counter, "Lines written by each output (flows, alerts, dns)."},
    {"lost", &counter_ref<&LineOutputCounters::lines_lost>, Merge::sum, "flowguard_output_lines_lost_total",
     MetricType::counter, "Lines an output could not write (a full disk, a closed pipe): lost, and logged."},
    {"write_errors", &counter_ref<&LineOutputCounters::write_errors>, Merge::sum, "flowguard_output_write_errors_total",
     MetricType::counter, "Failed writes of each output."},
    {"reopens", &counter_ref<&LineOutputCounters::reopens>, Merge::sum, "flowguard_output_reopens_total",
     MetricType::counter, "Times SIGHUP reopened an output's file (log rotation)."},
}};
void append_line_output_metric_specs(std::vector<MetricSpec>& catalog);

class LineOutput {
public:
    // `name`: what the lines are, in logs and as the metrics' `output` label ("flows", "alerts", "dns").
    LineOutput(std::string name, std::unique_ptr<LineTransport> transport);

    // Writes `buffer` (whole lines, `lines` of them) and clears it. A failed write loses its lines: they are
    // counted, and logged with the reason (at once, then at most once a minute while failures last, and when
    // writing works again). False when it failed.
    bool write(fmt::memory_buffer& buffer, std::uint64_t lines);
    // SIGHUP: the target opened again by name (log rotation); logged, and on error the old file stays.
    void reopen();
    std::uint64_t lines_written() const noexcept { return written_.load(std::memory_order_relaxed); }
    std::uint64_t lines_lost() const noexcept { return lost_.load(std::memory_order_relaxed); }
    bool failed() const noexcept { return lines_lost() > 0; }
    LineOutputCounters counters() const;
    void write_metrics(MetricSink& sink) const;
    const std::string& name() const noexcept { return name_; }
    const std::string& target() const { return transport_->target(); }

private:
    void note_failure(int error, std::uint64_t lines);
    void note_recovery();

    std::string name_;
    std::unique_ptr<LineTransport> transport_;
    std::atomic<std::uint64_t> written_{0};
    std::atomic<std::uint64_t> lost_{0};
    std::atomic<std::uint64_t> write_errors_{0};
    std::atomic<std::uint64_t> reopens_{0};
    std::atomic<bool> failing_{false};
    std::mutex report_mutex_;  // failures and recoveries only: the log lines about them
    std::chrono::steady_clock::time_point last_report_{};
    std::uint64_t lost_at_last_report_ = 0;
};

// Buffered lines of one writer.
class LineBuffer {
public:
    static constexpr std::size_t kFlushBytes = 1u << 16;
    explicit LineBuffer(LineOutput& output) : output_(output) {}
    fmt::memory_buffer& buffer() noexcept { return buffer_; }
    // A line was appended to buffer(); writes when the buffer is full.
    void added(std::uint64_t lines) {
        pending_ += lines;
        if (buffer_.size() >= kFlushBytes) write_out();
    }
    // Formats `items` as lines a few at a time (format(buffer, chunk)), writing whenever the buffer passes
    // kFlushBytes: one call can carry every flow or DNS event still held at the end of a capture (156,000
    // flows in one 2 M-packet capture), which must not become one buffer of the whole output.
    template <class Item, class Format>
    void append(std::span<const Item> items, Format&& format) {
        constexpr std::size_t kChunk = 64;
        for (std::size_t at = 0; at < items.size(); at += kChunk) {
            const auto chunk = items.subspan(at, std::min(kChunk, items.size() - at));
            format(buffer_, chunk);
            added(chunk.size());
        }
    }
    void write_out() {
        if (buffer_.size() == 0) return;
        output_.write(buffer_, pending_);
        pending_ = 0;
    }

private:
    LineOutput& output_;
    fmt::memory_buffer buffer_;
    std::uint64_t pending_ = 0;
};

// Flow records in one of the flow formats (json, csv).
class FlowOutputStage final : public Stage {
public:
    FlowOutputStage(const FlowLineFormat& format, LineOutput& output) : format_(format), lines_(output) {}
    void on_flows(std::span<const FlowRecord> records, std::uint64_t now_ns, Alerts& alerts) override;
    void flush(std::uint64_t) override { lines_.write_out(); }

private:
    const FlowLineFormat& format_;
    LineBuffer lines_;
};

// Passive DNS events as JSON lines (`meter --dns-log`).
class DnsLogStage final : public Stage {
public:
    explicit DnsLogStage(LineOutput& output) : lines_(output) {}
    void on_dns(std::span<const DnsEvent> events, std::uint64_t now_ns, Alerts& alerts) override;
    void flush(std::uint64_t) override { lines_.write_out(); }
    bool wants_dns() const override { return true; }

private:
    LineBuffer lines_;
};

// The alert log: every alert as one JSON line. Alerts are rare: one write per publish.
// The alert log: one line per open, updated and resolved alert (ongoing ones only tell the ledger the finding
// goes on), in `format` (native | ecs, exporters/alert_format.hpp).
class AlertLog final : public AlertSink {
public:
    explicit AlertLog(LineOutput& output, std::string format = "native")
        : output_(output), format_(std::move(format)) {}
    std::string_view name() const override { return "log"; }
    void publish(std::span<const Alert> alerts) override;
    std::uint64_t alerts_written() const noexcept { return output_.lines_written(); }

private:
    LineOutput& output_;
    std::string format_;
};

}  // namespace flowguard::exporters
