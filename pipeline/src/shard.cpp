#include <flowguard/core/clock.hpp>
#include <flowguard/core/counter.hpp>
#include <flowguard/pipeline/shard.hpp>

#include <algorithm>
#include <chrono>

namespace flowguard::pipeline {
namespace {

constexpr std::uint64_t kPublishIntervalNs = 1'000'000'000;

}  // namespace

Shard::Shard(std::vector<BatchChannel*> inputs, std::vector<DnsChannel*> dns_inputs,
             std::vector<std::unique_ptr<Stage>> stages, std::vector<AlertSink*> alert_sinks)
    : inputs_(std::move(inputs)),
      dns_inputs_(std::move(dns_inputs)),
      stages_(std::move(stages)),
      alert_sinks_(std::move(alert_sinks)) {
    for (auto* channel : inputs_) channel->set_doorbell(&doorbell_);
    for (auto* channel : dns_inputs_) channel->set_doorbell(&doorbell_);
}

// DNS events reach the stages before the flows drained after them: the answer that names an address must be
// known when the flow to it is scored (a flow record is only emitted once its flow has ended, well after the
// lookup that preceded it).
std::size_t Shard::drain_dns(std::uint64_t now_ns) {
    std::size_t taken = 0;
    for (auto* channel : dns_inputs_) {
        while (DnsBatch* batch = channel->consume()) {
            const std::span<const DnsEvent> events(batch->records.data(), batch->count);
            for (auto& stage : stages_) stage->on_dns(events, now_ns, pending_alerts_);
            taken += batch->count;
            channel->release(batch);
        }
    }
    if (taken) add_single_writer(dns_events_, taken);
    return taken;
}

std::size_t Shard::drain_once(std::uint64_t now_ns) {
    std::size_t taken = drain_dns(now_ns);
    for (auto* channel : inputs_) {
        while (FlowBatch* batch = channel->consume()) {
            const std::span<const FlowRecord> records(batch->records.data(), batch->count);
            for (auto& stage : stages_) stage->on_flows(records, now_ns, pending_alerts_);
            add_single_writer(records_, batch->count);
            taken += batch->count;
            channel->release(batch);
        }
    }
    return taken;
}

void Shard::send_alerts() {
    if (pending_alerts_.empty()) return;
    for (const auto& alert : pending_alerts_)
        if (alert.status != AlertStatus::ongoing)
            ++alert_counts_[{alert.kind, std::string(severity_name(alert.severity))}];
    for (auto* sink : alert_sinks_) sink->publish(pending_alerts_);
    pending_alerts_.clear();
}

void Shard::publish(std::uint64_t now_ns, bool last) {
    if (!last && now_ns - last_publish_ns_ < kPublishIntervalNs) return;
    last_publish_ns_ = now_ns;
    for (auto& stage : stages_) stage->publish();
    ShardSnapshot snap;  // built outside the lock
    snap.counters.records = records();
    snap.counters.dns_events = dns_events();
    for (auto* channel : inputs_) snap.counters.queued_batches += channel->queued();
    for (auto* channel : dns_inputs_) snap.counters.queued_batches += channel->queued();
    snap.alerts = alert_counts_;
    std::lock_guard lock(published_mutex_);
    published_ = std::move(snap);
}

ShardSnapshot Shard::published() const {
    std::lock_guard lock(published_mutex_);
    return published_;
}

void Shard::run(const std::atomic<bool>& producers_done) {
    // Naps between drains. On a virtual machine each wake-up costs several microseconds of CPU, as much as
    // decoding a few hundred records, so a shard naps up to 20 ms while its channels fill slowly. The
    // producers ring its doorbell once a channel is a quarter used (Channel::publish): a ring wakes it at
    // once and quarters the next nap, so under load the shard drains often and the channels keep their
    // margin; every nap that runs its course doubles the next. (A futex wake per batch, measured earlier,
    // cost twice the CPU of naps.)
    constexpr auto kMinNap = std::chrono::microseconds(250);
    constexpr auto kMaxNap = std::chrono::microseconds(20'000);
    auto nap = kMaxNap;
    for (;;) {
        // Read the flag before draining: if it was set, everything the producers published is visible now.
        const bool done = producers_done.load(std::memory_order_acquire);
        const std::uint64_t now = wall_clock_ns();
        while (drain_once(now) != 0) {
        }
        for (auto& stage : stages_) stage->poll(now, pending_alerts_);
        if (done)
            for (auto& stage : stages_) stage->finish(pending_alerts_);
        for (auto& stage : stages_) stage->flush(now);  // let lines out now rather than when a buffer fills
        send_alerts();
        for (auto* sink : alert_sinks_) sink->tick(now);
        publish(now, done);
        if (done) return;
        nap = doorbell_.nap(nap) ? std::max(nap / 4, kMinNap) : std::min(nap * 2, kMaxNap);
    }
}

}  // namespace flowguard::pipeline
