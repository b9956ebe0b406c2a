#pragma once
// The lists a running daemon re-reads on SIGHUP: indicators (the shipped SUNBURST list plus
// analyzer.ioc_files) and the beacon allow-lists. Shared by every shard's analyzer; replaced whole.
#include <flowguard/analyzer/config.hpp>
#include <flowguard/analyzer/ioc.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace flowguard::analyzer {

struct AnalyzerLists {
    IocList iocs;
    std::vector<std::uint16_t> allow_ports;
    std::vector<std::string> allow_domains;
};

// The shipped SUNBURST indicators + config.ioc_files, and the beacon allow-lists. Throws std::runtime_error
// naming file:line.
std::shared_ptr<const AnalyzerLists> load_lists(const AnalyzerConfig& config);

// The current lists: a shard polls the generation (one relaxed load per batch) and takes the lock only when
// it changed.
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

}  // namespace flowguard::analyzer
