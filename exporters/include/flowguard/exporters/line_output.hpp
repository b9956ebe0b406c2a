#pragma once
// Text-line outputs: a format's lines to a transport. One LineOutput per destination (the flow output, the DNS
// log, the alert log) is shared by its writers, one per shard (or the runner's one), which buffer whole lines
// and hand over ~64 KiB at a time, so the transport's lock is taken per buffer and never per line.
#include <flowguard/core/counters.hpp>
#include <flowguard/core/stage.hpp>
#include <flowguard/exporters/flow_format.hpp>
#include <flowguard/exporters/line_transport.hpp>

#include <fmt/format.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace flowguard::exporters {

class LineOutput {
public:
    // `header`: written once, before the first lines of any writer ("" = none).
    LineOutput(std::string header, std::unique_ptr<LineTransport> transport);

    // Writes `buffer` (whole lines, `lines` of them) and clears it; counts the lines written when the write
    // succeeded. False when it failed (then the transport has failed()).
    bool write(fmt::memory_buffer& buffer, std::uint64_t lines);
    std::uint64_t lines_written() const noexcept { return written_.load(std::memory_order_relaxed); }
    bool failed() const { return transport_->failed(); }
    const std::string& target() const { return transport_->target(); }

private:
    std::string header_;
    std::unique_ptr<LineTransport> transport_;
    std::once_flag header_once_;
    std::atomic<std::uint64_t> written_{0};
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
class AlertLog final : public AlertSink {
public:
    explicit AlertLog(LineOutput& output) : output_(output) {}
    std::string_view name() const override { return "log"; }
    void publish(std::span<const Alert> alerts) override;
    std::uint64_t alerts_written() const noexcept { return output_.lines_written(); }

private:
    LineOutput& output_;
};

}  // namespace flowguard::exporters
