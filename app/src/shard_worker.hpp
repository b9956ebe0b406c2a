#pragma once
// One shard of the pipeline: consumes record batches from every producer's channel to it (receive and
// capture threads), and writes them out (JSON/CSV lines) or only counts them (format none). The analyzer's
// per-host state lives here, which is why records and DNS events are routed to shards by internal host.
#include <flowguard/analyzer/analyzer.hpp>
#include <flowguard/core/doorbell.hpp>
#include <flowguard/core/flow_batch.hpp>
#include <flowguard/exporters/flow_format.hpp>
#include <flowguard/exporters/traffic_stats.hpp>
#include <flowguard/exporters/webhook.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace flowguard::app {

// Where shards write. One write(2) per formatted buffer of whole lines, under a mutex so lines from
// different shards never interleave on a pipe; the lock is taken per buffer (~64 KiB), not per record.
class LineSink {
public:
    explicit LineSink(int fd) : fd_(fd) {}
    bool write(const char* data, std::size_t size);
    bool failed() const noexcept { return failed_.load(std::memory_order_relaxed); }

private:
    int fd_;
    std::mutex mutex_;
    std::atomic<bool> failed_{false};
};

// The lists SIGHUP reloads: indicators (shipped + ioc_files) and the beacon allow-lists.
struct AnalyzerLists {
    analyzer::IocList iocs;
    std::vector<std::uint16_t> allow_ports;
    std::vector<std::string> allow_domains;
};

// The lists shared by every shard: replaced whole on SIGHUP. Shards poll the generation (one relaxed
// load per drain) and take the lock only when it changed.
class ListUpdates {
public:
    explicit ListUpdates(std::shared_ptr<const AnalyzerLists> lists) : lists_(std::move(lists)) {}
    void publish(std::shared_ptr<const AnalyzerLists> lists) {
        std::lock_guard lock(mutex_);
        lists_ = std::move(lists);
        generation_.fetch_add(1, std::memory_order_release);
    }
    std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }
    std::shared_ptr<const AnalyzerLists> current() const {
        std::lock_guard lock(mutex_);
        return lists_;
    }

private:
    mutable std::mutex mutex_;
    std::shared_ptr<const AnalyzerLists> lists_;
    std::atomic<std::uint64_t> generation_{0};
};

// The analyzer side of a shard: its own detector state (records of one internal host always reach the same
// shard, so no state is shared) and where its alerts go.
struct ShardAnalysis {
    std::unique_ptr<analyzer::Analyzer> analyzer;
    LineSink* alerts = nullptr;
    exporters::WebhookDispatcher* webhooks = nullptr;  // spools alerts for ticketing; may be null
    ListUpdates* lists = nullptr;
};

// What a shard publishes for the metrics endpoint (once a second, under a lock the scrape shares).
struct ShardSnapshot {
    exporters::TrafficSnapshot traffic;
    analyzer::AnalyzerStats analyzer;
    std::map<std::pair<std::string, std::string>, std::uint64_t> alerts;  // (kind, severity) -> count
    std::uint64_t records = 0;
    std::size_t queued_batches = 0;
};

class ShardWorker {
public:
    ShardWorker(std::vector<BatchChannel*> inputs, exporters::FlowFormat format, LineSink& sink,
                ShardAnalysis analysis = {}, std::unique_ptr<exporters::TrafficStats> traffic = nullptr,
                std::vector<DnsChannel*> dns_inputs = {})
        : inputs_(std::move(inputs)),
          dns_inputs_(std::move(dns_inputs)),
          format_(format),
          sink_(sink),
          analysis_(std::move(analysis)),
          traffic_(std::move(traffic)) {
        for (auto* channel : inputs_) channel->set_doorbell(&doorbell_);
        for (auto* channel : dns_inputs_) channel->set_doorbell(&doorbell_);
    }

    // Consumes until `producers_done` is set and every input is empty.
    void run(const std::atomic<bool>& producers_done);
    // Cuts the current nap short (at shutdown, so draining starts at once).
    void wake() noexcept { doorbell_.ring(); }

    std::uint64_t records() const noexcept { return records_.load(std::memory_order_relaxed); }
    std::uint64_t dns_events() const noexcept { return dns_events_.load(std::memory_order_relaxed); }
    std::uint64_t records_written() const noexcept { return written_.load(std::memory_order_relaxed); }
    std::uint64_t alerts() const noexcept { return alerts_written_.load(std::memory_order_relaxed); }
    ShardSnapshot published() const;

private:
    std::size_t drain_once();
    std::size_t drain_dns();
    void flush();
    void write_alerts();
    void publish(std::uint64_t now_ns);

    std::vector<BatchChannel*> inputs_;
    std::vector<DnsChannel*> dns_inputs_;
    Doorbell doorbell_;  // rung by the producers when a channel is a quarter used
    std::atomic<std::uint64_t> dns_events_{0};
    exporters::FlowFormat format_;
    LineSink& sink_;
    fmt::memory_buffer buffer_;
    std::uint64_t buffered_lines_ = 0;
    bool header_written_ = false;
    std::atomic<std::uint64_t> records_{0};
    std::atomic<std::uint64_t> written_{0};
    ShardAnalysis analysis_;
    std::vector<Alert> pending_alerts_;
    std::uint64_t lists_generation_ = 0;
    std::atomic<std::uint64_t> alerts_written_{0};
    std::unique_ptr<exporters::TrafficStats> traffic_;
    std::map<std::pair<std::string, std::string>, std::uint64_t> alert_counts_;
    std::uint64_t last_publish_ns_ = 0;
    mutable std::mutex published_mutex_;
    ShardSnapshot published_;
};

}  // namespace flowguard::app
