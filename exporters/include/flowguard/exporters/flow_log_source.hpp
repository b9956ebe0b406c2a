#pragma once
// Flow and DNS logs read back as a source (`analyze flows.jsonl dns.jsonl`): JSON lines as `decode`, `collect`
// and `meter` write them (goflow2 flow records and flowguard DNS events, mixed in any order), and flowguard's
// CSV. Lines are delivered in file order, gathered into batches (OrderedBatch). A line that does not parse is
// counted and skipped, never the file.
#include <flowguard/core/counters.hpp>
#include <flowguard/core/stage.hpp>

#include <cstdint>
#include <string>

namespace flowguard::exporters {

struct FlowLogCounters {
    std::uint64_t json_lines = 0;  // non-empty lines of JSON-lines files
    std::uint64_t json_errors = 0;
    std::uint64_t csv_lines = 0;  // records of CSV files (the header excluded)
    std::uint64_t csv_errors = 0;
};

inline constexpr CounterTable<FlowLogCounters, 2> kJsonLogCounters{{
    {"json_lines", counter_ref<&FlowLogCounters::json_lines>},
    {"json_errors", counter_ref<&FlowLogCounters::json_errors>},
}};
// In `analyze`'s summary once CSV was read.
inline constexpr CounterTable<FlowLogCounters, 2> kCsvLogCounters{{
    {"csv_lines", counter_ref<&FlowLogCounters::csv_lines>},
    {"csv_errors", counter_ref<&FlowLogCounters::csv_errors>},
}};

enum class LogFormat { json_lines, csv, other };
// From the file's first bytes: JSON lines (an object), flowguard's CSV (its header), or something else (a
// capture). Unreadable files are `other`.
LogFormat sniff_log_format(const std::string& path);

class FlowLogSource final : public Source {
public:
    // Counts into `counters` (shared by the log sources of one run).
    FlowLogSource(std::string path, FlowLogCounters& counters) : path_(std::move(path)), counters_(counters) {}
    std::string_view kind() const override { return "file"; }
    void run(const std::atomic<bool>& stop, RecordSink& sink) override;
    bool opened() const noexcept { return opened_; }  // false: the file could not be read (after run)

private:
    std::string path_;
    FlowLogCounters& counters_;
    bool opened_ = false;
};

}  // namespace flowguard::exporters
