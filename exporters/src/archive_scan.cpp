#include <flowguard/core/clock.hpp>
#include <flowguard/exporters/archive.hpp>
#include <flowguard/exporters/archive_scan.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_set>

namespace flowguard::exporters {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kOpenPrefix = "nfcapd.current.";

std::optional<ArchiveFile> archive_file_of(const fs::path& path) {
    const std::string name = path.filename().string();
    if (name.starts_with(kOpenPrefix)) return ArchiveFile{path.string(), 0, true};
    if (const auto start = archive_file_start(name)) return ArchiveFile{path.string(), *start, false};
    return std::nullopt;
}

void collect_directory(const fs::path& root, std::vector<ArchiveFile>& out) {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
         !ec && it != end; it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        if (auto f = archive_file_of(it->path())) out.push_back(std::move(*f));
    }
    if (ec) spdlog::warn("query: listing {}: {}", root.string(), ec.message());
}

// Keeps the complete files whose interval (up to the next file's start) can hold flows of the window, and the
// open files when the window reaches the present.
std::vector<ArchiveFile> select(std::vector<ArchiveFile> found, const ScanWindow& w) {
    std::vector<ArchiveFile> complete;
    std::vector<ArchiveFile> open;
    for (auto& f : found) (f.open ? open : complete).push_back(std::move(f));
    std::sort(complete.begin(), complete.end(), [](const ArchiveFile& a, const ArchiveFile& b) {
        return std::tie(a.start_ns, a.path) < std::tie(b.start_ns, b.path);
    });
    std::sort(open.begin(), open.end(), [](const ArchiveFile& a, const ArchiveFile& b) { return a.path < b.path; });
    const std::uint64_t to_with_slack = w.to_ns > UINT64_MAX - kLateExportNs ? UINT64_MAX : w.to_ns + kLateExportNs;
    std::vector<ArchiveFile> selected;
    for (std::size_t i = 0; i < complete.size(); ++i) {
        std::uint64_t next = UINT64_MAX;
        for (std::size_t j = i + 1; j < complete.size(); ++j) {
            if (complete[j].start_ns > complete[i].start_ns) {
                next = complete[j].start_ns;
                break;
            }
        }
        const std::uint64_t end = next > UINT64_MAX - kClockSkewNs ? UINT64_MAX : next + kClockSkewNs;
        if (complete[i].start_ns < to_with_slack && end > w.from_ns) selected.push_back(std::move(complete[i]));
    }
    if (to_with_slack >= wall_clock_ns())
        for (auto& f : open) selected.push_back(std::move(f));
    return selected;
}

}  // namespace

std::vector<ArchiveFile> archive_files(const std::vector<std::string>& roots, const ScanWindow& window) {
    std::vector<ArchiveFile> found;
    std::vector<ArchiveFile> named;  // files given by name: read whatever their name or time
    for (const auto& root : roots) {
        std::error_code ec;
        const auto status = fs::status(root, ec);
        if (ec || !fs::exists(status)) throw std::runtime_error(root + ": no such file or directory");
        if (fs::is_directory(status)) {
            collect_directory(root, found);
        } else {
            auto f = archive_file_of(root).value_or(ArchiveFile{root, 0, false});
            named.push_back(std::move(f));
        }
    }
    auto selected = select(std::move(found), window);
    selected.insert(selected.end(), named.begin(), named.end());
    return selected;
}

ArchiveScan::ArchiveScan(std::vector<std::string> roots, ScanWindow window, FlowFilter filter)
    : roots_(std::move(roots)), window_(window), files_(archive_files(roots_, window_)), filter_(std::move(filter)) {
    filter_.restrict_time(window_.from_ns, window_.to_ns);
    progress_.files_total = files_.size();
    for (const auto& f : files_) {
        std::error_code ec;
        const auto size = fs::file_size(f.path, ec);
        if (!ec) progress_.bytes_total += size;
    }
}

// An open file vanished: its writer closed it and renamed it into place. The files not yet listed are added.
void ArchiveScan::find_renamed() {
    std::unordered_set<std::string> known;
    for (const auto& f : files_) known.insert(f.path);
    for (auto& f : archive_files(roots_, window_)) {
        if (f.open || known.contains(f.path)) continue;
        files_.push_back(std::move(f));
        ++progress_.files_total;
    }
}

// What reading one file found; the flows themselves went to the caller block by block.
struct ArchiveScan::FileOutcome {
    ScanCounters counters;  // files, open_files, unreadable_files, damaged_blocks (flows are counted per block)
    std::uint64_t bytes = 0;
    bool vanished = false;  // an open file gone before it was opened: renamed into place
};

// Reads one file through `keep`, handing each block's matches and records read to `emit` (false: stop).
ArchiveScan::FileOutcome ArchiveScan::scan_one(const ArchiveFile& file, const FlowFilter* keep,
                                               NfdumpReadBuffers& buffers, std::vector<FlowRecord>& block,
                                               const EmitBlock& emit) const {
    FileOutcome outcome;
    std::error_code ec;
    const auto size = fs::file_size(file.path, ec);
    outcome.bytes = ec ? 0 : size;
    std::unique_ptr<NfdumpFileReader> reader;
    try {
        reader = std::make_unique<NfdumpFileReader>(file.path, &buffers);
    } catch (const std::exception& e) {
        if (file.open && !fs::exists(file.path)) {
            outcome.vanished = true;
        } else {
            ++outcome.counters.unreadable_files;
            spdlog::warn("query: skipped {}", e.what());
        }
        return outcome;
    }
    ++outcome.counters.files;
    if (file.open) ++outcome.counters.open_files;
    if (core_only_) reader->read_core_fields_only();
    std::uint64_t read_before = 0;
    while (reader->next(block, keep)) {
        const std::uint64_t read = reader->counters().records - read_before;
        read_before = reader->counters().records;
        if (!emit(block, read)) break;
    }
    const auto& read = reader->counters();
    outcome.counters.damaged_blocks = read.damaged_blocks;
    if (read.damaged_blocks > 0 && !file.open)
        spdlog::warn("query: {}: a damaged block; the rest of the file was skipped ({} records read)", file.path,
                     read.records);
    return outcome;
}

namespace {

void merge(ScanCounters& into, const ScanCounters& file) {
    into.files += file.files;
    into.open_files += file.open_files;
    into.unreadable_files += file.unreadable_files;
    into.damaged_blocks += file.damaged_blocks;
}

}  // namespace

// The flows read and matched, in the summary's counters and the progress report alike.
void ArchiveScan::count_flows(std::uint64_t read, std::uint64_t matched) noexcept {
    counters_.flows_read += read;
    progress_.flows_read += read;
    counters_.flows_matched += matched;
    progress_.flows_matched += matched;
}

// One block's matches: counted, handed on, progress shown; false when the caller wants no more.
bool ArchiveScan::deliver(std::span<const FlowRecord> matched, std::uint64_t read, const Callbacks& cb) {
    count_flows(read, matched.size());
    if (!matched.empty()) cb.on_flows(matched);
    if (cb.progress) cb.progress(progress_);
    return !(cb.stop && cb.stop());
}

void ArchiveScan::finish_file(const FileOutcome& outcome, const Callbacks& cb) {
    merge(counters_, outcome.counters);
    ++progress_.files_done;
    progress_.bytes_done += outcome.bytes;
    if (outcome.vanished) find_renamed();
    if (cb.progress) cb.progress(progress_);
}

void ArchiveScan::run(const OnFlows& on_flows, const OnProgress& progress, const std::function<bool()>& stop,
                      unsigned threads) {
    const Callbacks cb{on_flows, progress, stop};
    if (threads > 1 && files_.size() > 1) {
        run_parallel(cb, threads);
        return;
    }
    const FlowFilter* keep = filter_.matches_all() ? nullptr : &filter_;
    NfdumpReadBuffers buffers;
    // files_ can grow while scanning (find_renamed), so no iterators into it are kept.
    for (std::size_t i = 0; i < files_.size(); ++i) {
        const ArchiveFile file = files_[i];
        bool more = true;
        const auto outcome = scan_one(
            file, keep, buffers, matched_,
            [&](std::vector<FlowRecord>& block, std::uint64_t read) { return more = deliver(block, read, cb); });
        finish_file(outcome, cb);
        if (!more) return;
    }
}

// Workers read whole files ahead (at most `threads` + 1 files, 4 blocks each, so memory stays bounded); this
// thread hands their blocks on in file order, so the output is the sequential scan's.
void ArchiveScan::run_parallel(const Callbacks& cb, unsigned threads) {
    constexpr std::size_t kBlocksQueued = 4;
    struct Slot {
        std::deque<std::pair<std::vector<FlowRecord>, std::uint64_t>> blocks;
        FileOutcome outcome;
        bool done = false;
    };
    std::mutex m;
    std::condition_variable changed;
    std::deque<Slot> slots;  // one per file, created as workers take files
    std::size_t next = 0;
    std::size_t consumed = 0;
    bool finished = false;
    const FlowFilter* keep = filter_.matches_all() ? nullptr : &filter_;
    const std::size_t lookahead = threads + 1;

    auto worker = [&] {
        std::vector<FlowRecord> block;
        NfdumpReadBuffers buffers;
        std::unique_lock lock(m);
        for (;;) {
            changed.wait(lock, [&] { return finished || (next < files_.size() && next < consumed + lookahead); });
            if (finished) return;
            const std::size_t index = next++;
            const ArchiveFile file = files_[index];
            Slot& slot = slots.emplace_back();
            lock.unlock();
            auto outcome =
                scan_one(file, keep, buffers, block, [&](std::vector<FlowRecord>& matched, std::uint64_t read) {
                    std::unique_lock inner(m);
                    changed.wait(inner, [&] { return finished || slot.blocks.size() < kBlocksQueued; });
                    if (finished) return false;
                    slot.blocks.emplace_back(std::move(matched), read);
                    matched = {};
                    changed.notify_all();
                    return true;
                });
            lock.lock();
            slot.outcome = outcome;
            slot.done = true;
            changed.notify_all();
        }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker);

    bool more = true;
    std::unique_lock lock(m);
    for (std::size_t index = 0; more && index < files_.size(); ++index) {
        changed.wait(lock, [&] { return slots.size() > index; });
        Slot& slot = slots[index];
        for (;;) {
            changed.wait(lock, [&] { return !slot.blocks.empty() || slot.done; });
            if (slot.blocks.empty()) break;
            auto [block, read] = std::move(slot.blocks.front());
            slot.blocks.pop_front();
            changed.notify_all();
            lock.unlock();
            more = deliver(block, read, cb);
            lock.lock();
            if (!more) break;
        }
        if (!more) break;
        consumed = index + 1;
        changed.notify_all();
        finish_file(slot.outcome, cb);  // under the lock: it may append renamed files to files_, which workers read
    }
    finished = true;
    changed.notify_all();
    lock.unlock();
    for (auto& t : pool) t.join();
}

void ArchiveScan::run_unordered(const std::vector<OnFlows>& consumers, const OnProgress& progress) {
    if (consumers.size() <= 1 || files_.size() <= 1) {
        if (!consumers.empty()) run(consumers.front(), progress);
        return;
    }
    std::mutex m;
    std::condition_variable changed;
    std::size_t next = 0;
    std::size_t running = consumers.size();
    const FlowFilter* keep = filter_.matches_all() ? nullptr : &filter_;
    const std::function<bool()> never;
    const OnProgress quiet;

    auto worker = [&](const OnFlows& consume) {
        std::vector<FlowRecord> block;
        NfdumpReadBuffers buffers;
        std::unique_lock lock(m);
        while (next < files_.size()) {
            const ArchiveFile file = files_[next++];
            lock.unlock();
            std::uint64_t read_here = 0;
            std::uint64_t matched_here = 0;
            const auto outcome =
                scan_one(file, keep, buffers, block, [&](std::vector<FlowRecord>& matched, std::uint64_t read) {
                    if (!matched.empty()) consume(matched);
                    read_here += read;
                    matched_here += matched.size();
                    return true;
                });
            lock.lock();
            count_flows(read_here, matched_here);
            finish_file(outcome, {consume, quiet, never});  // under the lock: it may append renamed files
            changed.notify_all();
        }
        --running;
        changed.notify_all();
    };
    std::vector<std::thread> pool;
    for (const auto& consume : consumers) pool.emplace_back(worker, std::cref(consume));
    {
        std::unique_lock lock(m);
        while (running > 0) {
            changed.wait_for(lock, std::chrono::milliseconds(250));
            if (progress) progress(progress_);
        }
        if (progress) progress(progress_);  // the final state, also when the workers finished before the first wait
    }
    for (auto& t : pool) t.join();
}

}  // namespace flowguard::exporters
