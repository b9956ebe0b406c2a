#pragma once
// Reading the archive back: which nfcapd files a time window needs, and a scan of them through a filter.
// Safe on a running daemon's directory: complete files are never rewritten (the writer renames a file into
// place once it is closed and synced), and the open interval's nfcapd.current.* file is read up to its last
// whole block. A file that is renamed between listing and opening is found again under its final name.
#include <flowguard/exporters/flow_filter.hpp>
#include <flowguard/exporters/nfdump_file.hpp>

#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace flowguard::exporters {

// Flows that overlap [from_ns, to_ns): started before `to` and ended at or after `from`.
struct ScanWindow {
    std::uint64_t from_ns = 0;
    std::uint64_t to_ns = std::numeric_limits<std::uint64_t>::max();
};

// How far a file's records can lie outside its interval. A flow is exported up to an active timeout after it
// started (1 h covers the usual 30 min), so files up to an hour after `to` can hold flows that started before
// it; a flow ends before it is received, so only an exporter's clock error (minutes) puts a flow that ended
// after `from` in a file that closed before it.
inline constexpr std::uint64_t kLateExportNs = 3600ull * 1'000'000'000ull;
inline constexpr std::uint64_t kClockSkewNs = 300ull * 1'000'000'000ull;

struct ArchiveFile {
    std::string path;
    std::uint64_t start_ns = 0;  // from the name; an open file (nfcapd.current.*) sorts last
    bool open = false;
};

// The nfcapd files under each root (a directory, searched recursively, or a file named directly) that can hold
// flows of `window`, oldest first. Throws std::runtime_error for a root that does not exist.
std::vector<ArchiveFile> archive_files(const std::vector<std::string>& roots, const ScanWindow& window);

struct ScanProgress {
    std::size_t files_done = 0;
    std::size_t files_total = 0;
    std::uint64_t bytes_done = 0;  // of the files' sizes
    std::uint64_t bytes_total = 0;
    std::uint64_t flows_read = 0;
    std::uint64_t flows_matched = 0;
};

struct ScanCounters {
    std::uint64_t files = 0;
    std::uint64_t unreadable_files = 0;  // not an nfdump file we read, or gone: logged
    std::uint64_t damaged_blocks = 0;    // a half-written or corrupted block: the rest of its file is skipped
    std::uint64_t open_files = 0;        // read up to their last whole block
    std::uint64_t flows_read = 0;
    std::uint64_t flows_matched = 0;
};

// Reads the files in order; hands each block's matching records to `on_flows` (a per-block call, never per
// record) and reports progress after each block. Records are tested as the reader parses them, so the ones
// that do not match are never copied.
class ArchiveScan {
public:
    using OnFlows = std::function<void(std::span<const FlowRecord>)>;
    using OnProgress = std::function<void(const ScanProgress&)>;

    // Lists the files (archive_files(); throws as it does). The filter also gets the window's time test.
    ArchiveScan(std::vector<std::string> roots, ScanWindow window, FlowFilter filter);

    // Stops early when `stop` returns true (after a block), e.g. once enough records were listed. With more than
    // one thread, files are read and filtered on `threads` workers; the blocks still arrive in file order, on
    // this thread, so the callbacks need no locking and the output is the same.
    void run(const OnFlows& on_flows, const OnProgress& progress = {}, const std::function<bool()>& stop = {},
             unsigned threads = 1);
    // For statistics, where order does not matter: each of `threads` workers reads whole files and hands its
    // blocks to its own consumer, `consumers[worker]` (called on that worker's thread only, so each consumer can
    // keep its own tables, merged by the caller afterwards: no block crosses threads). Progress is reported on
    // this thread.
    void run_unordered(const std::vector<OnFlows>& consumers, const OnProgress& progress = {});

    // The consumers read only the generic flow and address fields (NfdumpFileReader::read_core_fields_only).
    void hand_on_core_fields_only() noexcept { core_only_ = true; }

    const ScanCounters& counters() const noexcept { return counters_; }
    const std::vector<ArchiveFile>& files() const noexcept { return files_; }

private:
    struct FileOutcome;
    struct Callbacks {
        const OnFlows& on_flows;
        const OnProgress& progress;
        const std::function<bool()>& stop;
    };
    using EmitBlock = std::function<bool(std::vector<FlowRecord>& matched, std::uint64_t read)>;

    FileOutcome scan_one(const ArchiveFile& file, const FlowFilter* keep, NfdumpReadBuffers& buffers,
                         std::vector<FlowRecord>& block, const EmitBlock& emit) const;
    void count_flows(std::uint64_t read, std::uint64_t matched) noexcept;
    bool deliver(std::span<const FlowRecord> matched, std::uint64_t read, const Callbacks& cb);
    void finish_file(const FileOutcome& outcome, const Callbacks& cb);
    void run_parallel(const Callbacks& cb, unsigned threads);
    void find_renamed();

    std::vector<std::string> roots_;
    ScanWindow window_;
    std::vector<ArchiveFile> files_;
    FlowFilter filter_;
    bool core_only_ = false;
    ScanCounters counters_;
    ScanProgress progress_;
    std::vector<FlowRecord> matched_;
};

}  // namespace flowguard::exporters
