#include <flowguard/pipeline/runner.hpp>

#include <atomic>

namespace flowguard::pipeline {

Runner::Runner(std::vector<std::unique_ptr<Stage>> stages, std::vector<AlertSink*> alert_sinks)
    : stages_(std::move(stages)), alert_sinks_(std::move(alert_sinks)) {
    for (const auto& stage : stages_) wants_dns_ = wants_dns_ || stage->wants_dns();
}

void Runner::run(Source& source) {
    const std::atomic<bool> never{false};
    source.run(never, *this);
}

void Runner::deliver(std::span<const DnsEvent> dns, std::span<const FlowRecord> flows, std::uint64_t now_ns) {
    now_ns_ = now_ns;
    for (auto* sink : alert_sinks_) sink->tick(now_ns);  // first: the alerts of this batch are raised at its time
    if (wants_dns_ && !dns.empty())
        for (auto& stage : stages_) stage->on_dns(dns, now_ns, alerts_);
    if (!flows.empty())
        for (auto& stage : stages_) stage->on_flows(flows, now_ns, alerts_);
    counters_.records_delivered += flows.size();
    send_alerts();
}

void Runner::send_alerts() {
    if (alerts_.empty()) return;
    for (auto* sink : alert_sinks_) sink->publish(alerts_);
    alerts_.clear();
}

void Runner::finish() {
    for (auto& stage : stages_) stage->finish(alerts_);
    for (auto& stage : stages_) stage->flush(now_ns_);
    send_alerts();
    for (auto& stage : stages_) stage->publish();
}

}  // namespace flowguard::pipeline
