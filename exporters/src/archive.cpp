#include <flowguard/core/clock.hpp>
#include <flowguard/exporters/alert_format.hpp>
#include <flowguard/exporters/archive.hpp>
#include <flowguard/exporters/dns_format.hpp>
#include <flowguard/exporters/record_handoff.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <system_error>

namespace flowguard::exporters {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kPrefix = "nfcapd.";
constexpr std::string_view kCurrentPrefix = "nfcapd.current.";
// DNS events leave the writer in gzip members at least this often (a crash loses at most this much of them);
// alerts, rare and precious, at every round.
constexpr std::uint64_t kDnsMemberAgeNs = 30 * kSecondNs;

std::uint64_t file_size_or_zero(const fs::path& path) {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    return ec ? 0 : size;
}

}  // namespace

std::string archive_file_name(std::uint64_t interval_start_ns, unsigned suffix) {
    const auto seconds = static_cast<std::time_t>(interval_start_ns / kSecondNs);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    auto name = fmt::format("nfcapd.{:04}{:02}{:02}{:02}{:02}", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                            utc.tm_hour, utc.tm_min);
    if (suffix > 0) name += fmt::format("-{}", suffix);
    return name;
}

std::optional<std::uint64_t> archive_file_start(const std::string& name) {
    if (name.size() < kPrefix.size() + 12 || name.compare(0, kPrefix.size(), kPrefix) != 0) return std::nullopt;
    const std::string digits = name.substr(kPrefix.size(), 12);
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
    const std::string rest = name.substr(kPrefix.size() + 12);
    if (!rest.empty() && (rest[0] != '-' || rest.size() < 2 ||
                          !std::all_of(rest.begin() + 1, rest.end(), [](char c) { return c >= '0' && c <= '9'; })))
        return std::nullopt;
    std::tm utc{};
    utc.tm_year = std::stoi(digits.substr(0, 4)) - 1900;
    utc.tm_mon = std::stoi(digits.substr(4, 2)) - 1;
    utc.tm_mday = std::stoi(digits.substr(6, 2));
    utc.tm_hour = std::stoi(digits.substr(8, 2));
    utc.tm_min = std::stoi(digits.substr(10, 2));
    const std::time_t seconds = timegm(&utc);
    if (seconds < 0) return std::nullopt;
    return static_cast<std::uint64_t>(seconds) * kSecondNs;
}

void append_archive_metric_specs(std::vector<MetricSpec>& catalog) {
    append_metric_specs(catalog, kArchiveStats);
}

ArchiveWriter::ArchiveWriter(const ArchiveConfig& config)
    : config_(config), compression_(config.compression == "none" ? NfdumpCompression::none : NfdumpCompression::lz4) {
    if (!config.events) return;
    events_path_ = archive_events_path(config);
    event_files_.emplace_back(events_path_, EventKind::dns, kDnsMemberAgeNs);
    event_files_.emplace_back(events_path_, EventKind::alerts, 0);
}

ArchiveWriter::~ArchiveWriter() {
    try {
        close();
    } catch (const std::exception& e) {
        spdlog::error("archive: {}", e.what());
    }
}

void ArchiveWriter::open(std::uint64_t now_ns) {
    now_ns_ = now_ns;
    fs::create_directories(config_.path);  // throws std::filesystem_error (a std::system_error) naming the path
    salvage();
    if (!events_path_.empty()) {
        fs::create_directories(events_path_);
        salvage_events();
    }
    expire(now_ns);
    start_file(now_ns);
}

// Files a writer that died left behind (nfcapd.current.<pid> of a pid that is gone): their whole blocks go into
// a complete file of the interval they were opened in, which nfdump then reads too.
void ArchiveWriter::salvage() {
    std::vector<fs::path> dead;  // listed first: salvaging adds files to the directory
    for (const auto& entry : fs::directory_iterator(config_.path)) {
        const std::string name = entry.path().filename().string();
        if (name.compare(0, kCurrentPrefix.size(), kCurrentPrefix) == 0) dead.push_back(entry.path());
    }
    for (const auto& path : dead) {
        const std::string name = path.filename().string();
        const int pid = std::atoi(name.c_str() + kCurrentPrefix.size());
        if (pid > 0 && pid != ::getpid() && ::kill(pid, 0) == 0) continue;  // another live writer's: not ours
        try {
            NfdumpFileReader reader(path.string());
            std::vector<FlowRecord> records;
            std::uint64_t first_ns = 0;
            std::unique_ptr<NfdumpFileWriter> out;
            std::string target;
            while (reader.next(records)) {
                if (!out) {
                    first_ns = records.front().time_received_ns ? records.front().time_received_ns
                                                                : records.front().time_flow_end_ns;
                    target = final_path(first_ns - first_ns % config_.interval_ns);
                    out = std::make_unique<NfdumpFileWriter>(target + ".salvage", compression_);
                }
                for (const auto& r : records) out->append(r);
            }
            if (out) {
                out->close();
                fs::rename(target + ".salvage", target);
                ++stats_.files_salvaged;
                spdlog::warn("archive: {} was left by a writer that stopped abruptly: {} flows recovered into {}{}",
                             name, reader.counters().records, fs::path(target).filename().string(),
                             reader.counters().damaged_blocks ? " (its last block was incomplete)" : "");
            } else {
                spdlog::warn("archive: {} was left by a writer that stopped abruptly, with no whole block: removed",
                             name);
            }
            fs::remove(path);
        } catch (const std::exception& e) {
            ++stats_.write_errors;
            spdlog::error("archive: cannot salvage {}: {}", name, e.what());
        }
    }
}

void ArchiveWriter::salvage_events() {
    for (const auto& s : salvage_event_files(events_path_)) {
        if (!s.error.empty()) {
            ++stats_.write_errors;
            spdlog::error("archive: cannot salvage {}: {}", s.name, s.error);
            continue;
        }
        if (s.into.empty()) {
            spdlog::warn("archive: {} was left by a writer that stopped abruptly, with no whole member: removed",
                         s.name);
            continue;
        }
        ++stats_.files_salvaged;
        spdlog::warn("archive: {} was left by a writer that stopped abruptly: {} lines kept in {}{}", s.name, s.lines,
                     fs::path(s.into).filename().string(), s.cut ? " (its last member was incomplete)" : "");
    }
}

std::string ArchiveWriter::final_path(std::uint64_t interval_start_ns) const {
    for (unsigned suffix = 0;; ++suffix) {  // a restart within an interval: the earlier file keeps its name
        const fs::path path = fs::path(config_.path) / archive_file_name(interval_start_ns, suffix);
        std::error_code ec;
        if (!fs::exists(path, ec) && !fs::exists(path.string() + ".salvage", ec)) return path.string();
    }
}

void ArchiveWriter::start_file(std::uint64_t now_ns) {
    interval_start_ns_ = now_ns - now_ns % config_.interval_ns;
    // A name of its own for every file: one that could not be completed or renamed is never truncated by the
    // next; the next start salvages it.
    current_path_ =
        (fs::path(config_.path) / fmt::format("{}{}.{}", kCurrentPrefix, ::getpid(), ++files_started_)).string();
    try {
        file_ = std::make_unique<NfdumpFileWriter>(current_path_, compression_);
    } catch (const std::exception& e) {
        file_.reset();
        failed(e.what(), 0);
    }
}

void ArchiveWriter::finish_event_files() {
    for (auto& file : event_files_) {
        if (!file.is_open()) continue;
        try {
            file.finish();
            if (file.bytes_written() > 0) {
                closed_bytes_ += file.bytes_written();
                ++closed_files_;
                ++stats_.files_written;
            }
        } catch (const std::exception& e) {
            event_file_failed(file, e);
        }
    }
}

void ArchiveWriter::event_file_failed(EventFileWriter& file, const std::exception& e) {
    const auto lost = file.abandon();  // its whole members stay; the next start salvages them
    stats_.events_lost += lost;
    failed(fmt::format("{} ({} {} lost)", e.what(), lost, event_kind_name(file.kind())), 0);
}

void ArchiveWriter::write_events(EventFileWriter& file, std::string_view text, std::size_t lines,
                                 std::uint64_t now_ns) {
    try {
        if (!file.is_open()) file.start(interval_start_ns_, ++files_started_);
        file.add(text, lines, now_ns);
    } catch (const std::exception& e) {
        event_file_failed(file, e);
    }
}

void ArchiveWriter::write_dns(std::span<const DnsEvent> events, std::uint64_t now_ns) {
    tick(now_ns);
    if (event_files_.empty() || events.empty()) return;
    event_text_.clear();
    for (const auto& event : events) append_dns_json(event_text_, event);  // a line each, newline included
    write_events(event_files_[0], std::string_view(event_text_.data(), event_text_.size()), events.size(), now_ns);
}

void ArchiveWriter::write_alerts(std::span<const std::string> lines, std::uint64_t now_ns) {
    tick(now_ns);
    if (event_files_.empty() || lines.empty()) return;
    event_text_.clear();
    for (const auto& line : lines) {
        event_text_.append(line);
        event_text_.push_back('\n');
    }
    write_events(event_files_[1], std::string_view(event_text_.data(), event_text_.size()), lines.size(), now_ns);
}

void ArchiveWriter::finish_file() {
    finish_event_files();
    if (!file_) return;
    try {
        file_->close();
        const std::string target = final_path(interval_start_ns_);
        fs::rename(current_path_, target);
        closed_bytes_ += file_->bytes_written();
        ++closed_files_;
        ++stats_.files_written;
    } catch (const std::exception& e) {
        file_->abandon();  // its whole blocks stay readable; the header says 0 blocks, as after a crash
        failed(e.what(), 0);
    }
    file_.reset();
}

void ArchiveWriter::write(std::span<const FlowRecord> records, std::uint64_t now_ns) {
    tick(now_ns);
    if (!file_) start_file(now_ns);  // the last attempt failed: try again
    if (!file_) {
        stats_.flows_lost += records.size();
        return;
    }
    try {
        for (const auto& r : records) file_->append(r);
        stats_.flows_written += records.size();
    } catch (const std::exception& e) {
        // The file is broken (a full disk): what it holds stays readable up to its last whole block; the next
        // records go to a new file of the same interval.
        stats_.flows_lost += records.size();
        failed(e.what(), records.size());
        file_->abandon();  // left as it is: its whole blocks are salvaged at the next start
        file_.reset();
    }
}

void ArchiveWriter::tick(std::uint64_t now_ns) {
    now_ns_ = std::max(now_ns_, now_ns);
    for (auto& file : event_files_) {
        try {
            file.tick(now_ns_);
        } catch (const std::exception& e) {
            event_file_failed(file, e);
        }
    }
    if (now_ns_ < interval_start_ns_ + config_.interval_ns) return;
    finish_file();
    expire(now_ns_);
    start_file(now_ns_);
}

ArchiveStats ArchiveWriter::stats() const noexcept {
    ArchiveStats s = stats_;
    s.bytes_stored = closed_bytes_ + (file_ ? file_->bytes_written() : 0);
    s.files_stored = closed_files_ + (file_ ? 1 : 0);
    for (const auto& file : event_files_) {
        (file.kind() == EventKind::dns ? s.dns_written : s.alerts_written) = file.lines_written();
        if (!file.is_open()) continue;
        s.bytes_stored += file.bytes_written();
        ++s.files_stored;
    }
    return s;
}

void ArchiveWriter::close() {
    finish_file();
}

// Retention: files whose interval ended more than max_age ago, then the oldest while the total exceeds
// max_size; flow and event files alike (one archive in two directories). Open files count towards the total
// but are never removed.
void ArchiveWriter::expire(std::uint64_t now_ns) {
    struct Stored {
        std::uint64_t start_ns;
        std::string name;
        const std::string* directory;
        std::uint64_t bytes;
    };
    std::vector<Stored> files;
    const auto list = [&](const std::string& directory, auto start_of) {
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(directory, ec)) {
            const std::string name = entry.path().filename().string();
            if (const auto start = start_of(name))
                files.push_back({*start, name, &directory, file_size_or_zero(entry.path())});
        }
        if (ec) failed(fmt::format("cannot list {}: {}", directory, ec.message()), 0);
        return !ec;
    };
    if (!list(config_.path, archive_file_start)) return;
    if (!events_path_.empty() && !list(events_path_, [](const std::string& name) -> std::optional<std::uint64_t> {
            const auto info = event_file_info(name);
            if (!info || info->open) return std::nullopt;
            return info->start_ns;
        }))
        return;
    std::sort(files.begin(), files.end(), [](const Stored& a, const Stored& b) {
        return std::tie(a.start_ns, a.name) < std::tie(b.start_ns, b.name);
    });
    std::uint64_t open_bytes = file_ ? file_->bytes_written() : 0;
    for (const auto& file : event_files_) open_bytes += file.is_open() ? file.bytes_written() : 0;
    std::uint64_t total = open_bytes;
    for (const auto& f : files) total += f.bytes;
    std::size_t kept_from = 0;
    auto remove = [&](const Stored& f, const char* why) {
        std::error_code rm;
        fs::remove(fs::path(*f.directory) / f.name, rm);
        if (rm) {
            failed(fmt::format("cannot remove {}: {}", f.name, rm.message()), 0);
            return;
        }
        total -= f.bytes;
        ++stats_.files_expired;
        stats_.bytes_expired += f.bytes;
        spdlog::info("archive: {} removed ({})", f.name, why);
    };
    for (; kept_from < files.size(); ++kept_from) {
        const auto& f = files[kept_from];
        const bool too_old = config_.max_age_ns != 0 && f.start_ns + config_.interval_ns + config_.max_age_ns <= now_ns;
        const bool too_big = config_.max_bytes != 0 && total > config_.max_bytes;
        if (!too_old && !too_big) break;
        remove(f, too_old ? "older than archive.max_age" : "archive.max_size reached");
    }
    closed_files_ = files.size() - kept_from;
    closed_bytes_ = total - open_bytes;
}

void ArchiveWriter::failed(const std::string& what, std::uint64_t flows) {
    ++stats_.write_errors;
    if (!error_log_.due(now_ns_)) return;
    spdlog::error("archive {}: {}{} ({} write errors, {} flows lost so far; logged at most once a minute)",
                  config_.path, what, flows ? fmt::format("; {} flows lost", flows) : "", stats_.write_errors,
                  stats_.flows_lost);
}

// Alerts as the alert log receives them (behind the finding ledger), rendered on the publishing thread.
class ArchiveAlertSink final : public AlertSink {
public:
    explicit ArchiveAlertSink(Archive& archive) : archive_(archive) {}
    std::string_view name() const override { return "archive"; }
    void publish(std::span<const Alert> alerts) override { archive_.submit_alerts(alerts); }

private:
    Archive& archive_;
};

namespace {

constexpr std::size_t kHandoffDnsEvents = 256;  // a stage hands over this many DNS events at a time
constexpr std::size_t kMaxQueuedAlerts = 65536;

// A shard's flows and DNS events on their way to the archive's writer.
class ArchiveStage final : public Stage {
public:
    explicit ArchiveStage(Archive& archive) : archive_(archive), flows_(archive) {
        if (archive.archives_events()) dns_.reserve(kHandoffDnsEvents);
    }
    void on_dns(std::span<const DnsEvent> events, std::uint64_t, Alerts&) override {
        for (const auto& event : events) {
            dns_.push_back(event);
            if (dns_.size() == kHandoffDnsEvents) archive_.submit_dns(dns_);
        }
    }
    void on_flows(std::span<const FlowRecord> records, std::uint64_t now_ns, Alerts& alerts) override {
        flows_.on_flows(records, now_ns, alerts);
    }
    void flush(std::uint64_t now_ns) override {
        flows_.flush(now_ns);
        if (!dns_.empty()) archive_.submit_dns(dns_);
    }
    bool wants_dns() const override { return archive_.archives_events(); }

private:
    Archive& archive_;
    RecordHandoffStage<Archive> flows_;
    std::vector<DnsEvent> dns_;
};

}  // namespace

Archive::Archive(const ArchiveConfig& config, std::function<std::uint64_t()> clock)
    : path_(config.path),
      max_queued_(config.max_queued_flows),
      max_queued_events_(config.max_queued_events),
      clock_(clock ? std::move(clock) : std::function<std::uint64_t()>(flowguard::wall_clock_ns)),
      writer_(config) {
    writer_.open(clock_());  // throws when the directory cannot be made: the caller reports it
    published_ = writer_.stats();
    if (config.events) alert_sink_ = std::make_unique<ArchiveAlertSink>(*this);
    thread_ = std::thread([this] { run(); });
}

Archive::~Archive() {
    stop();
}

std::unique_ptr<Stage> Archive::stage() {
    return std::make_unique<ArchiveStage>(*this);
}

AlertSink* Archive::alert_sink() noexcept {
    return alert_sink_.get();
}

void Archive::count_event_drops(std::size_t events) {
    events_dropped_ += events;
    if (!event_drop_log_.due(clock_())) return;
    spdlog::warn(
        "archive {}: the writer is behind: {} DNS events and alerts dropped so far (archive.max_queued_events {}; "
        "logged at most once a minute)",
        path_, events_dropped_, max_queued_events_);
}

void Archive::submit_dns(std::vector<DnsEvent>& events) {
    {
        std::lock_guard lock(mutex_);
        if ((stopping_ && !thread_.joinable()) || dns_queue_.size() + events.size() > max_queued_events_)
            count_event_drops(events.size());
        else
            dns_queue_.insert(dns_queue_.end(), events.begin(), events.end());
    }
    events.clear();
    wake_.notify_one();
}

void Archive::submit_alerts(std::span<const Alert> alerts) {
    std::vector<std::string> lines;
    lines.reserve(alerts.size());
    for (const auto& alert : alerts) lines.push_back(render_alert(alert, "native"));
    {
        std::lock_guard lock(mutex_);
        if ((stopping_ && !thread_.joinable()) || alert_queue_.size() + lines.size() > kMaxQueuedAlerts) {
            count_event_drops(lines.size());
            return;
        }
        for (auto& line : lines) alert_queue_.push_back(std::move(line));
    }
    wake_.notify_one();
}

void Archive::submit(std::vector<FlowRecord>& records) {
    std::unique_lock lock(mutex_);
    if (stopping_ && !thread_.joinable()) {
        dropped_ += records.size();
        records.clear();
        return;
    }
    if (queue_.flows() + records.size() > max_queued_) {
        dropped_ += records.size();
        if (drop_log_.due(clock_())) {
            spdlog::warn(
                "archive {}: the writer is behind (disk slower than the input): {} flows dropped so far "
                "(archive.max_queued_flows {}; logged at most once a minute)",
                path_, dropped_, max_queued_);
        }
        records.clear();
        return;
    }
    queue_.push(records);
    lock.unlock();
    wake_.notify_one();
}

void Archive::run() {
    pthread_setname_np(pthread_self(), "fg-archive");  // top -H: the pipeline's threads are named too
    std::vector<std::vector<FlowRecord>> batch;
    std::vector<DnsEvent> dns;
    std::vector<std::string> alerts;
    for (;;) {
        bool stopping = false;
        {
            std::unique_lock lock(mutex_);
            wake_.wait_for(lock, std::chrono::seconds(1), [&] {
                return !queue_.empty() || !dns_queue_.empty() || !alert_queue_.empty() || stopping_;
            });
            queue_.take(batch);
            dns.swap(dns_queue_);
            alerts.swap(alert_queue_);
            stopping = stopping_;
        }
        for (const auto& records : batch) writer_.write(records, clock_());
        writer_.write_dns(dns, clock_());
        writer_.write_alerts(alerts, clock_());
        dns.clear();
        alerts.clear();
        writer_.tick(clock_());
        if (stopping) writer_.close();
        std::lock_guard lock(mutex_);
        queue_.recycle(batch);
        published_ = writer_.stats();
        if (stopping && queue_.empty() && dns_queue_.empty() && alert_queue_.empty()) return;
    }
}

void Archive::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
}

ArchiveStats Archive::stats() const {
    std::lock_guard lock(mutex_);
    ArchiveStats s = published_;
    s.flows_dropped = dropped_;
    s.events_dropped = events_dropped_;
    return s;
}

void Archive::write_metrics(MetricSink& sink) const {
    flowguard::write_metrics(sink, stats(), kArchiveStats, {});
}

}  // namespace flowguard::exporters
