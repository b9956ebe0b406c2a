#include <flowguard/core/counter.hpp>
#include <flowguard/pipeline/forwarder.hpp>

namespace flowguard::pipeline {

Forwarder::Forwarder(const ForwardSelection& selection, BatchChannel& channel)
    : selection_(selection), batcher_({&channel}) {}

void Forwarder::on_flows(std::span<const FlowRecord> records, std::uint64_t now_ns, Alerts& alerts) {
    (void)alerts;
    std::uint64_t taken = 0;
    std::uint64_t dropped = 0;
    for (const auto& record : records) {
        if (!selection_.wants(record)) continue;
        if (batcher_.add(0, record, now_ns))
            ++taken;
        else
            ++dropped;
    }
    if (taken) add_single_writer(forwarded_, taken);
    if (dropped) add_single_writer(drops_, dropped);
}

void Forwarder::flush(std::uint64_t now_ns) {
    (void)now_ns;
    batcher_.hand_over(UINT64_MAX);
}

ForwardCounters Forwarder::counters() const noexcept {
    return {forwarded_.load(std::memory_order_relaxed), drops_.load(std::memory_order_relaxed)};
}

SelectedStage::SelectedStage(std::unique_ptr<GlobalStage> inner) : inner_(std::move(inner)) {}

void SelectedStage::on_flows(std::span<const FlowRecord> records, std::uint64_t now_ns, Alerts& alerts) {
    selected_.clear();
    const ForwardSelection& selection = inner_->selection();
    for (const auto& record : records)
        if (selection.wants(record)) selected_.push_back(record);
    if (selected_.empty()) return;
    forwarded_ += selected_.size();
    inner_->on_flows(selected_, now_ns, alerts);
}

}  // namespace flowguard::pipeline
