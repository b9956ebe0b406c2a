#include <flowguard/exporters/alert_format.hpp>
#include <flowguard/exporters/dns_format.hpp>
#include <flowguard/exporters/line_output.hpp>

#include <spdlog/spdlog.h>

#include <cstring>

namespace flowguard::exporters {

namespace {
constexpr auto kFailureReportEvery = std::chrono::minutes(1);
}  // namespace

LineOutput::LineOutput(std::string name, std::unique_ptr<LineTransport> transport)
    : name_(std::move(name)), transport_(std::move(transport)) {}

bool LineOutput::write(fmt::memory_buffer& buffer, std::uint64_t lines) {
    const int error = transport_->write(std::string_view(buffer.data(), buffer.size()));
    buffer.clear();
    if (error != 0) {
        note_failure(error, lines);
        return false;
    }
    written_.fetch_add(lines, std::memory_order_relaxed);
    if (failing_.load(std::memory_order_relaxed)) note_recovery();
    return true;
}

void LineOutput::note_failure(int error, std::uint64_t lines) {
    lost_.fetch_add(lines, std::memory_order_relaxed);
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(report_mutex_);
    const auto now = std::chrono::steady_clock::now();
    const bool first = !failing_.exchange(true, std::memory_order_relaxed);
    if (!first && now - last_report_ < kFailureReportEvery) return;
    const auto lost = lost_.load(std::memory_order_relaxed);
    spdlog::error("{} output {}: write failed: {}; {} lines lost{}", name_, target(), std::strerror(error),
                  first ? lines : lost - lost_at_last_report_,
                  first ? " (reported again at most once a minute while it lasts)" : " in the last minute");
    last_report_ = now;
    lost_at_last_report_ = lost;
}

void LineOutput::note_recovery() {
    std::lock_guard lock(report_mutex_);
    if (!failing_.exchange(false, std::memory_order_relaxed)) return;
    spdlog::warn("{} output {}: writing again; {} lines lost in all", name_, target(),
                 lost_.load(std::memory_order_relaxed));
}

void LineOutput::reopen() {
    try {
        transport_->reopen();
        reopens_.fetch_add(1, std::memory_order_relaxed);
        spdlog::info("{} output {}: reopened", name_, target());
    } catch (const std::exception& e) {
        spdlog::error("{} output: not reopened, the previous file stays in use: {}", name_, e.what());
    }
}

LineOutputCounters LineOutput::counters() const {
    return {written_.load(std::memory_order_relaxed), lost_.load(std::memory_order_relaxed),
            write_errors_.load(std::memory_order_relaxed), reopens_.load(std::memory_order_relaxed)};
}

void LineOutput::write_metrics(MetricSink& sink) const {
    flowguard::write_metrics(sink, counters(), kLineOutputCounters, {name_});
}

void append_line_output_metric_specs(std::vector<MetricSpec>& catalog) {
    append_metric_specs(catalog, kLineOutputCounters, {"output"});
}

void FlowOutputStage::on_flows(std::span<const FlowRecord> records, std::uint64_t, Alerts&) {
    lines_.append(records, format_.append);
}

void DnsLogStage::on_dns(std::span<const DnsEvent> events, std::uint64_t, Alerts&) {
    lines_.append(events, [](fmt::memory_buffer& out, std::span<const DnsEvent> chunk) {
        for (const auto& event : chunk) append_dns_json(out, event);
    });
}

void AlertLog::publish(std::span<const Alert> alerts) {
    fmt::memory_buffer lines;
    std::size_t count = 0;
    for (const auto& alert : alerts) {
        if (alert.status == AlertStatus::ongoing) continue;
        const auto line = render_alert(alert, format_);
        lines.append(line.data(), line.data() + line.size());
        lines.push_back('\n');
        ++count;
    }
    if (count != 0) output_.write(lines, count);
}

}  // namespace flowguard::exporters
