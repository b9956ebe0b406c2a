#include "write_fully.hpp"

#include <flowguard/core/clock.hpp>
#include <flowguard/exporters/archive.hpp>
#include <flowguard/exporters/event_archive.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace flowguard::exporters {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kEventSuffix = ".jsonl.gz";
constexpr std::string_view kOpenMark = ".current.";
constexpr std::string_view kNfcapdPrefix = "nfcapd.";  // archive_file_name's: its time stamp is reused
constexpr std::uint64_t kLongestIntervalNs = 86'400 * kSecondNs;
// Files are named by the writer's clock: a line can reach its file a little after its own time (queues, a
// finding reported after its evidence), so a scan also reads files that start up to this long after a window.
constexpr std::uint64_t kWrittenLateNs = 3'600 * kSecondNs;
constexpr int kGzipWindowBits = 15 + 16;  // deflate with a gzip header and trailer
constexpr std::size_t kReadChunk = 1u << 20;
// No line flowguard writes comes near this (a DNS event takes < 4 KiB, an alert with its evidence tens of
// KiB); a longer one is not ours (or is damage) and is skipped, so a hostile file cannot grow memory.
constexpr std::size_t kMaxLineBytes = 1u << 20;

// "202612070905" or "202612070905-1": the interval's start as archive_file_name writes it.
std::string minute_stamp(std::uint64_t interval_start_ns, unsigned suffix) {
    return archive_file_name(interval_start_ns, suffix).substr(kNfcapdPrefix.size());
}

std::optional<EventKind> kind_named(std::string_view name) {
    for (const auto kind : kEventKinds)
        if (event_kind_name(kind) == name) return kind;
    return std::nullopt;
}

std::runtime_error io_error(const std::string& what, const std::string& path) {
    return std::runtime_error(fmt::format("{} {}: {}", what, path, std::strerror(errno)));
}

void write_all(int fd, std::string_view data, const std::string& path) {
    if (const int error = write_fully(fd, data)) {
        errno = error;
        throw io_error("cannot write", path);
    }
}

bool writer_alive(int pid) {
    return pid > 0 && pid != ::getpid() && ::kill(pid, 0) == 0;
}

// The file's name under the interval's start that is free (a restart within an interval keeps the earlier).
std::string free_event_path(const std::string& directory, EventKind kind, std::uint64_t start_ns) {
    for (unsigned suffix = 0;; ++suffix) {
        const fs::path path = fs::path(directory) / event_file_name(kind, start_ns, suffix);
        std::error_code ec;
        if (!fs::exists(path, ec)) return path.string();
    }
}

// Inflates the members of a file in order; `on_text` gets the inflated bytes as they come.
class MemberReader {
public:
    explicit MemberReader(const std::string& path) : path_(path) {
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) throw io_error("cannot open", path);
        if (inflateInit2(&stream_, kGzipWindowBits) != Z_OK) {
            ::close(fd_);
            throw std::runtime_error("zlib: cannot start inflating " + path);
        }
    }
    ~MemberReader() {
        inflateEnd(&stream_);
        ::close(fd_);
    }
    MemberReader(const MemberReader&) = delete;
    MemberReader& operator=(const MemberReader&) = delete;

    template <class OnText>
    void run(EventFileCounters& counters, OnText&& on_text) {
        std::vector<unsigned char> in(kReadChunk);
        std::array<unsigned char, 64 * 1024> out{};
        std::uint64_t offset = 0;  // of in[0] in the file
        bool in_member = false;
        for (;;) {
            const auto n = ::read(fd_, in.data(), in.size());
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw io_error("cannot read", path_);
            if (n == 0) break;
            stream_.next_in = in.data();
            stream_.avail_in = static_cast<uInt>(n);
            while (stream_.avail_in > 0) {
                in_member = true;
                stream_.next_out = out.data();
                stream_.avail_out = static_cast<uInt>(out.size());
                const int rc = inflate(&stream_, Z_NO_FLUSH);
                on_text(std::string_view(reinterpret_cast<const char*>(out.data()), out.size() - stream_.avail_out));
                if (rc == Z_STREAM_END) {
                    ++counters.members;
                    counters.complete_lines = counters.lines;  // on_text counted this member's lines
                    counters.complete_bytes = offset + static_cast<std::uint64_t>(stream_.next_in - in.data());
                    in_member = false;
                    inflateReset(&stream_);
                } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
                    counters.damaged = true;  // not gzip (or corrupt): what came before stands
                    return;
                }
            }
            offset += static_cast<std::uint64_t>(n);
        }
        counters.incomplete = in_member;
    }

private:
    std::string path_;
    int fd_ = -1;
    z_stream stream_{};
};

}  // namespace

std::string_view event_kind_name(EventKind kind) noexcept {
    return kind == EventKind::dns ? "dns" : "alerts";
}

std::string archive_events_path(const ArchiveConfig& config) {
    if (!config.events_path.empty()) return config.events_path;
    std::string path = config.path;
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    return path + ".events";
}

bool same_directory(const std::string& a, const std::string& b) {
    const auto normal = [](const std::string& path) {
        auto p = fs::path(path).lexically_normal();
        return p.has_filename() ? p : p.parent_path();  // "dir/" is "dir"
    };
    return normal(a) == normal(b);
}

std::string event_file_name(EventKind kind, std::uint64_t interval_start_ns, unsigned suffix) {
    return fmt::format("{}.{}{}", event_kind_name(kind), minute_stamp(interval_start_ns, suffix), kEventSuffix);
}

std::optional<EventFileInfo> event_file_info(const std::string& name) {
    const auto dot = name.find('.');
    if (dot == std::string::npos) return std::nullopt;
    const auto kind = kind_named(std::string_view(name).substr(0, dot));
    if (!kind) return std::nullopt;
    std::string_view rest = std::string_view(name).substr(dot + 1);
    EventFileInfo info;
    info.kind = *kind;
    std::string_view stamp;
    if (rest.size() > kEventSuffix.size() && rest.substr(rest.size() - kEventSuffix.size()) == kEventSuffix) {
        stamp = rest.substr(0, rest.size() - kEventSuffix.size());
    } else if (const auto mark = rest.find(kOpenMark); mark != std::string_view::npos) {
        stamp = rest.substr(0, mark);
        info.open = true;
        info.pid = std::atoi(std::string(rest.substr(mark + kOpenMark.size())).c_str());
        if (info.pid <= 0) return std::nullopt;
    } else {
        return std::nullopt;
    }
    const auto start = archive_file_start(std::string(kNfcapdPrefix) + std::string(stamp));
    if (!start) return std::nullopt;
    info.start_ns = *start;
    return info;
}

EventFileCounters read_event_file(const std::string& path, const std::function<void(std::string_view)>& line) {
    EventFileCounters counters;
    MemberReader reader(path);
    std::string partial;    // a line split between two inflated pieces
    bool skipping = false;  // inside a line longer than kMaxLineBytes
    reader.run(counters, [&](std::string_view text) {
        while (!text.empty()) {
            const auto end = text.find('\n');
            if (end == std::string_view::npos) {
                if (!skipping && partial.size() + text.size() > kMaxLineBytes) {
                    skipping = true;
                    counters.damaged = true;
                    partial.clear();
                }
                if (!skipping) partial.append(text);
                return;
            }
            if (skipping) {
                skipping = false;
            } else if (partial.empty()) {
                line(text.substr(0, end));
            } else {
                partial.append(text.substr(0, end));
                line(partial);
                partial.clear();
            }
            ++counters.lines;  // a skipped over-long line too: the count is of newlines read
            text.remove_prefix(end + 1);
        }
    });
    return counters;
}

EventFileWriter::EventFileWriter(std::string directory, EventKind kind, std::uint64_t member_age_ns,
                                 std::size_t member_bytes)
    : directory_(std::move(directory)), kind_(kind), member_age_ns_(member_age_ns), member_bytes_(member_bytes) {}

EventFileWriter::EventFileWriter(EventFileWriter&& other) noexcept
    : directory_(std::move(other.directory_)),
      kind_(other.kind_),
      member_age_ns_(other.member_age_ns_),
      member_bytes_(other.member_bytes_),
      fd_(std::exchange(other.fd_, -1)),
      current_path_(std::move(other.current_path_)),
      interval_start_ns_(other.interval_start_ns_),
      waiting_(std::move(other.waiting_)),
      waiting_lines_(std::exchange(other.waiting_lines_, 0)),
      waiting_since_ns_(other.waiting_since_ns_),
      bytes_written_(other.bytes_written_),
      lines_written_(other.lines_written_) {}

EventFileWriter::~EventFileWriter() {
    abandon();  // the owner finishes files; one still open here is left for the next start's salvage
}

void EventFileWriter::start(std::uint64_t interval_start_ns, std::uint64_t serial) {
    interval_start_ns_ = interval_start_ns;
    current_path_ =
        (fs::path(directory_) / fmt::format("{}.{}{}{}.{}", event_kind_name(kind_), minute_stamp(interval_start_ns, 0),
                                            kOpenMark, ::getpid(), serial))
            .string();
    fd_ = ::open(current_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
    if (fd_ < 0) throw io_error("cannot create", current_path_);
    bytes_written_ = 0;
}

void EventFileWriter::add(std::string_view text, std::size_t lines, std::uint64_t now_ns) {
    if (waiting_lines_ == 0) waiting_since_ns_ = now_ns;
    waiting_.append(text);
    waiting_lines_ += lines;
    if (waiting_.size() >= member_bytes_) write_member();
}

void EventFileWriter::tick(std::uint64_t now_ns) {
    if (waiting_lines_ > 0 && now_ns >= waiting_since_ns_ + member_age_ns_) write_member();
}

void EventFileWriter::write_member() {
    if (waiting_.empty() || fd_ < 0) return;
    // Level 1: on real names 75 bytes per DNS event at 2.7 us of the writer's CPU, where the default level 6
    // takes 62 bytes at 6 us (docs/PERFORMANCE.md "Archived DNS events"); a DNS flood must not starve the shards.
    z_stream z{};
    if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("zlib: cannot start deflating");
    compressed_.resize(deflateBound(&z, static_cast<uLong>(waiting_.size())));
    z.next_in = reinterpret_cast<Bytef*>(waiting_.data());
    z.avail_in = static_cast<uInt>(waiting_.size());
    z.next_out = reinterpret_cast<Bytef*>(compressed_.data());
    z.avail_out = static_cast<uInt>(compressed_.size());
    const int rc = deflate(&z, Z_FINISH);
    const auto size = compressed_.size() - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) throw std::runtime_error("zlib: deflate failed");
    write_all(fd_, std::string_view(compressed_.data(), size), current_path_);
    bytes_written_ += size;
    lines_written_ += waiting_lines_;
    waiting_.clear();
    waiting_lines_ = 0;
}

std::string EventFileWriter::final_path() const {
    return free_event_path(directory_, kind_, interval_start_ns_);
}

void EventFileWriter::finish() {
    if (fd_ < 0) return;
    write_member();
    if (bytes_written_ == 0) {  // nothing happened in this interval: no empty file
        ::close(std::exchange(fd_, -1));
        std::error_code ec;
        fs::remove(current_path_, ec);
        return;
    }
    if (::fdatasync(fd_) != 0) throw io_error("cannot sync", current_path_);
    if (::close(std::exchange(fd_, -1)) != 0) throw io_error("cannot close", current_path_);
    fs::rename(current_path_, final_path());  // throws std::filesystem_error: the file stays for salvage
}

std::uint64_t EventFileWriter::abandon() noexcept {
    const auto lost = waiting_lines_;
    waiting_.clear();
    waiting_lines_ = 0;
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    return lost;
}

std::vector<EventSalvage> salvage_event_files(const std::string& directory) {
    std::vector<std::pair<fs::path, EventFileInfo>> dead;  // listed first: salvaging adds files
    for (const auto& entry : fs::directory_iterator(directory)) {
        const auto info = event_file_info(entry.path().filename().string());
        if (info && info->open && !writer_alive(info->pid)) dead.emplace_back(entry.path(), *info);
    }
    std::vector<EventSalvage> salvaged;
    for (const auto& [path, info] : dead) {
        EventSalvage s;
        s.name = path.filename().string();
        EventFileCounters counters;
        try {
            counters = read_event_file(path.string(), [](std::string_view) {});
        } catch (const std::exception&) {
            counters = {};  // unreadable: nothing to keep
        }
        s.cut = counters.incomplete || counters.damaged;
        try {
            if (counters.complete_bytes == 0) {
                fs::remove(path);
            } else {
                fs::resize_file(path, counters.complete_bytes);  // the incomplete member goes
                s.into = free_event_path(directory, info.kind, info.start_ns);
                fs::rename(path, s.into);
                s.lines = counters.complete_lines;
            }
        } catch (const std::exception& e) {
            s.into.clear();
            s.error = e.what();  // left as it is; the next start tries again
        }
        salvaged.push_back(std::move(s));
    }
    return salvaged;
}

EventScanCounters scan_event_archive(const std::string& directory, EventKind kind, std::uint64_t from_ns,
                                     std::uint64_t to_ns, const std::function<void(std::string_view)>& line) {
    struct Candidate {
        std::uint64_t start_ns;
        bool open;
        std::string path;
    };
    std::vector<Candidate> files;
    for (const auto& entry : fs::directory_iterator(directory)) {  // throws, naming the directory
        const auto info = event_file_info(entry.path().filename().string());
        const std::uint64_t late_end = to_ns > UINT64_MAX - kWrittenLateNs ? UINT64_MAX : to_ns + kWrittenLateNs;
        if (!info || info->kind != kind || info->start_ns >= late_end) continue;
        if (info->start_ns + kLongestIntervalNs <= from_ns) continue;
        // An open file of a writer that is gone is salvaged at its next start; read it meanwhile.
        files.push_back({info->start_ns, info->open, entry.path().string()});
    }
    std::sort(files.begin(), files.end(), [](const Candidate& a, const Candidate& b) {
        return std::tie(a.start_ns, a.open, a.path) < std::tie(b.start_ns, b.open, b.path);
    });
    EventScanCounters counters;
    for (const auto& f : files) {
        try {
            const auto read = read_event_file(f.path, line);
            ++counters.files;
            counters.lines += read.lines;
            if (read.damaged || (read.incomplete && !f.open)) {
                ++counters.damaged_files;
                spdlog::warn("{}: {} after {} lines; the rest skipped", f.path,
                             read.damaged ? "damaged data" : "cut short", read.lines);
            }
        } catch (const std::exception& e) {
            if (f.open) continue;  // completed and renamed while listed: its complete name was listed or is new
            ++counters.unreadable_files;
            spdlog::warn("{}", e.what());
        }
    }
    return counters;
}

}  // namespace flowguard::exporters
