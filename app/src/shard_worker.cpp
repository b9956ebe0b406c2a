#include "shard_worker.hpp"

#include <flowguard/core/clock.hpp>
#include <flowguard/core/counter.hpp>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

namespace flowguard::app {

bool LineSink::write(const char* data, std::size_t size) {
    std::lock_guard lock(mutex_);
    while (size > 0) {
        const auto n = ::write(fd_, data, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            failed_.store(true, std::memory_order_relaxed);
            return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

// DNS events go to the analyzer before the flows drained after them: the answer that names an address must
// be known when the flow to it is scored (a flow record is only emitted once its flow has ended, well after
// the lookup that preceded it).
std::size_t ShardWorker::drain_dns() {
    std::size_t taken = 0;
    for (auto* channel : dns_inputs_) {
        while (DnsBatch* batch = channel->consume()) {
            if (analysis_.analyzer) {
                for (std::uint32_t i = 0; i < batch->count; ++i)
                    analysis_.analyzer->on_dns(batch->records[i], pending_alerts_);
            }
            taken += batch->count;
            channel->release(batch);
        }
    }
    if (taken) add_single_writer(dns_events_, taken);
    return taken;
}

std::size_t ShardWorker::drain_once() {
    std::size_t taken = drain_dns();
    for (auto* channel : inputs_) {
        while (FlowBatch* batch = channel->consume()) {
            const std::span<const FlowRecord> records(batch->records.data(), batch->count);
            if (format_ == exporters::FlowFormat::json) {
                for (const auto& r : records) exporters::append_flow_json(buffer_, r);
            } else if (format_ == exporters::FlowFormat::csv) {
                if (!header_written_) {
                    buffer_.append(exporters::flow_csv_header());
                    buffer_.push_back('\n');
                    header_written_ = true;
                }
                for (const auto& r : records) exporters::append_flow_csv(buffer_, r);
            }
            if (analysis_.analyzer) {
                for (const auto& r : records) analysis_.analyzer->on_flow(r, pending_alerts_);
            }
            if (traffic_) {
                for (const auto& r : records) traffic_->add(r);
            }
            if (format_ != exporters::FlowFormat::none) buffered_lines_ += batch->count;
            add_single_writer(records_, batch->count);
            taken += batch->count;
            channel->release(batch);
            if (buffer_.size() >= (1u << 16)) flush();
        }
    }
    return taken;
}

void ShardWorker::write_alerts() {
    if (pending_alerts_.empty() || analysis_.alerts == nullptr) return;
    std::string lines;
    for (const auto& alert : pending_alerts_) {
        lines += to_json_line(alert);
        ++alert_counts_[{alert.kind, std::string(severity_name(alert.severity))}];
    }
    if (analysis_.alerts->write(lines.data(), lines.size())) add_single_writer(alerts_written_, pending_alerts_.size());
    if (analysis_.webhooks != nullptr) analysis_.webhooks->submit(pending_alerts_);
    pending_alerts_.clear();
}

void ShardWorker::publish(std::uint64_t now_ns) {
    if (traffic_) traffic_->roll(now_ns);
    if (now_ns - last_publish_ns_ < 1'000'000'000ull) return;
    last_publish_ns_ = now_ns;
    ShardSnapshot snap;  // built outside the lock
    if (traffic_) snap.traffic = traffic_->snapshot();
    if (analysis_.analyzer) snap.analyzer = analysis_.analyzer->stats();
    snap.alerts = alert_counts_;
    snap.records = records();
    for (auto* channel : inputs_) snap.queued_batches += channel->queued();
    for (auto* channel : dns_inputs_) snap.queued_batches += channel->queued();
    std::lock_guard lock(published_mutex_);
    published_ = std::move(snap);
}

ShardSnapshot ShardWorker::published() const {
    std::lock_guard lock(published_mutex_);
    return published_;
}

void ShardWorker::flush() {
    if (buffer_.size() == 0) return;
    if (sink_.write(buffer_.data(), buffer_.size())) add_single_writer(written_, buffered_lines_);
    buffer_.clear();
    buffered_lines_ = 0;
}

void ShardWorker::run(const std::atomic<bool>& producers_done) {
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
        if (analysis_.lists && analysis_.lists->generation() != lists_generation_) {  // SIGHUP reloaded the lists
            lists_generation_ = analysis_.lists->generation();
            const auto lists = analysis_.lists->current();
            analysis_.analyzer->reload(analyzer::AnalyzerLists{lists->iocs, lists->allow_ports, lists->allow_domains});
        }
        while (drain_once() != 0) {
        }
        flush();  // let the lines out now rather than when the buffer fills
        if (done && analysis_.analyzer) analysis_.analyzer->finish(pending_alerts_);
        write_alerts();
        if (done) last_publish_ns_ = 0;  // the final state is published whatever the time
        publish(wall_clock_ns());
        if (done) return;
        nap = doorbell_.nap(nap) ? std::max(nap / 4, kMinNap) : std::min(nap * 2, kMaxNap);
    }
}

}  // namespace flowguard::app
