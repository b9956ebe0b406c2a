#include <flowguard/core/clock.hpp>
#include <flowguard/exporters/archive.hpp>
#include <flowguard/exporters/archive_scan.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>
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

void ArchiveScan::run(const OnFlows& on_flows, const OnProgress& progress, const std::function<bool()>& stop) {
    // files_ can grow while scanning (find_renamed), so no iterators into it are kept.
    for (std::size_t i = 0; i < files_.size(); ++i) {
        const ArchiveFile file = files_[i];
        if (!scan_file(file, on_flows, progress, stop)) return;
    }
}

bool ArchiveScan::scan_file(const ArchiveFile& file, const OnFlows& on_flows, const OnProgress& progress,
                            const std::function<bool()>& stop) {
    std::error_code ec;
    const auto size = fs::file_size(file.path, ec);
    std::unique_ptr<NfdumpFileReader> reader;
    try {
        reader = std::make_unique<NfdumpFileReader>(file.path);
    } catch (const std::exception& e) {
        if (file.open && !fs::exists(file.path)) {
            find_renamed();
        } else {
            ++counters_.unreadable_files;
            spdlog::warn("query: skipped {}", e.what());
        }
        ++progress_.files_done;
        return true;
    }
    ++counters_.files;
    if (file.open) ++counters_.open_files;
    const FlowFilter* keep = filter_.matches_all() ? nullptr : &filter_;
    std::uint64_t read_before = 0;
    while (reader->next(matched_, keep)) {
        const std::uint64_t read = reader->counters().records - read_before;
        read_before = reader->counters().records;
        counters_.flows_read += read;
        progress_.flows_read += read;
        const std::span<const FlowRecord> matched(matched_);
        counters_.flows_matched += matched.size();
        progress_.flows_matched += matched.size();
        if (!matched.empty()) on_flows(matched);
        if (progress) progress(progress_);
        if (stop && stop()) return false;
    }
    const auto& read = reader->counters();
    counters_.damaged_blocks += read.damaged_blocks;
    if (read.damaged_blocks > 0 && !file.open)
        spdlog::warn("query: {}: a damaged block; the rest of the file was skipped ({} records read)", file.path,
                     read.records);
    ++progress_.files_done;
    if (!ec) progress_.bytes_done += size;
    if (progress) progress(progress_);
    return true;
}

}  // namespace flowguard::exporters
