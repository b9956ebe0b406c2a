#include <flowguard/exporters/dns_format.hpp>
#include <flowguard/exporters/line_output.hpp>

namespace flowguard::exporters {

LineOutput::LineOutput(std::string header, std::unique_ptr<LineTransport> transport)
    : header_(std::move(header)), transport_(std::move(transport)) {}

bool LineOutput::write(fmt::memory_buffer& buffer, std::uint64_t lines) {
    if (!header_.empty()) std::call_once(header_once_, [&] { transport_->write(header_); });
    const bool ok = transport_->write(std::string_view(buffer.data(), buffer.size()));
    buffer.clear();
    if (ok) written_.fetch_add(lines, std::memory_order_relaxed);
    return ok;
}

void FlowOutputStage::on_flows(std::span<const FlowRecord> records, std::uint64_t, Alerts&) {
    format_.append(lines_.buffer(), records);
    lines_.added(records.size());
}

void DnsLogStage::on_dns(std::span<const DnsEvent> events, std::uint64_t, Alerts&) {
    for (const auto& event : events) append_dns_json(lines_.buffer(), event);
    lines_.added(events.size());
}

void AlertLog::publish(std::span<const Alert> alerts) {
    fmt::memory_buffer lines;
    for (const auto& alert : alerts) {
        const auto line = to_json_line(alert);
        lines.append(line.data(), line.data() + line.size());
    }
    output_.write(lines, alerts.size());
}

}  // namespace flowguard::exporters
