#pragma once
// The flow archive: nfcapd-compatible files (nfdump_file.hpp) in one directory, a new file every
// `archive.interval` named after the interval's start (nfcapd.YYYYMMDDhhmm, UTC), retention by age and by total
// size. `nfdump -R DIR`, its filters and `nfexpire` work on it as on nfcapd's; `flowguard query` reads it back
// (archive_scan.hpp).
//
// Shards never wait for the disk: each shard's stage fills buffers of records and hands them to the archive's
// writer thread through a bounded queue; when the queue is full (the disk is slower than the input) a buffer is
// dropped, counted and logged. The open interval is written to nfcapd.current.<pid>.<n> (nfdump skips the name)
// (.<n>) and renamed when the interval ends, after its header is complete and synced: a crash loses at most the records
// of the open interval not yet in a whole block, and at the next start the writer salvages the dead file's
// whole blocks into a proper file of that interval.
//
// DNS events and alerts go to the same writer thread (their own bounded queues) and into gzip'd JSON-lines
// files beside the flow files (event_archive.hpp), rotated with them; retention treats the two directories as
// one archive (max_size caps both together, oldest interval first).
#include <flowguard/core/counters.hpp>
#include <flowguard/core/dns_event.hpp>
#include <flowguard/core/log_throttle.hpp>
#include <flowguard/core/stage.hpp>
#include <flowguard/exporters/config.hpp>
#include <flowguard/exporters/event_archive.hpp>
#include <flowguard/exporters/nfdump_file.hpp>
#include <flowguard/exporters/record_handoff.hpp>

#include <fmt/format.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace flowguard::exporters {

struct ArchiveStats {
    std::uint64_t flows_written = 0;
    std::uint64_t flows_dropped = 0;  // the writer's queue was full (the disk slower than the input)
    std::uint64_t flows_lost = 0;     // in writes that failed (a full disk): logged
    std::uint64_t write_errors = 0;
    std::uint64_t files_written = 0;   // intervals closed
    std::uint64_t files_salvaged = 0;  // files of a writer that died, recovered at start
    std::uint64_t files_expired = 0;   // removed by retention (age or size)
    std::uint64_t bytes_expired = 0;
    std::uint64_t bytes_stored = 0;  // the archive's files now (the open one included), events' too
    std::uint64_t files_stored = 0;
    std::uint64_t dns_written = 0;     // DNS events in complete gzip members
    std::uint64_t alerts_written = 0;  // alerts in complete gzip members
    std::uint64_t events_dropped = 0;  // DNS events or alerts: the writer's queue was full
    std::uint64_t events_lost = 0;     // DNS events or alerts in writes that failed: logged
};

inline constexpr CounterTable<ArchiveStats, 14> kArchiveStats{{
    {"flows_written", counter_ref<&ArchiveStats::flows_written>, Merge::sum, "flowguard_archive_flows_total",
     MetricType::counter, "Flow records written to the archive."},
    {"flows_dropped", counter_ref<&ArchiveStats::flows_dropped>, Merge::sum, "flowguard_archive_flows_dropped_total",
     MetricType::counter, "Flow records not archived because the writer's queue was full (disk slower than input)."},
    {"flows_lost", counter_ref<&ArchiveStats::flows_lost>, Merge::sum, "flowguard_archive_flows_lost_total",
     MetricType::counter, "Flow records lost in failed archive writes (a full disk; each failure logged)."},
    {"write_errors", counter_ref<&ArchiveStats::write_errors>, Merge::sum, "flowguard_archive_write_errors_total",
     MetricType::counter, "Failed archive writes, renames or removals."},
    {"files_written", counter_ref<&ArchiveStats::files_written>, Merge::sum, "flowguard_archive_files_total",
     MetricType::counter, "Archive files completed (one per interval)."},
    {"files_salvaged", counter_ref<&ArchiveStats::files_salvaged>, Merge::sum, "flowguard_archive_files_salvaged_total",
     MetricType::counter, "Files of a writer that died, recovered into complete files at start."},
    {"files_expired", counter_ref<&ArchiveStats::files_expired>, Merge::sum, "flowguard_archive_files_expired_total",
     MetricType::counter, "Archive files removed by retention (archive.max_age, archive.max_size)."},
    {"bytes_expired", counter_ref<&ArchiveStats::bytes_expired>, Merge::sum, "flowguard_archive_expired_bytes_total",
     MetricType::counter, "Bytes of archive files removed by retention."},
    {"bytes_stored", counter_ref<&ArchiveStats::bytes_stored>, Merge::sum, "flowguard_archive_bytes", MetricType::gauge,
     "Bytes the archive's files take now."},
    {"files_stored", counter_ref<&ArchiveStats::files_stored>, Merge::sum, "flowguard_archive_files", MetricType::gauge,
     "Files in the archive now."},
    {"dns_written", counter_ref<&ArchiveStats::dns_written>, Merge::sum, "flowguard_archive_dns_events_total",
     MetricType::counter, "Passive DNS events written to the archive (archive.events)."},
    {"alerts_written", counter_ref<&ArchiveStats::alerts_written>, Merge::sum, "flowguard_archive_alerts_total",
     MetricType::counter, "Alerts written to the archive (archive.events)."},
    {"events_dropped", counter_ref<&ArchiveStats::events_dropped>, Merge::sum, "flowguard_archive_events_dropped_total",
     MetricType::counter, "DNS events and alerts not archived because the writer's queue was full."},
    {"events_lost", counter_ref<&ArchiveStats::events_lost>, Merge::sum, "flowguard_archive_events_lost_total",
     MetricType::counter, "DNS events and alerts lost in failed archive writes (each failure logged)."},
}};
void append_archive_metric_specs(std::vector<MetricSpec>& catalog);

// One archive file name: the interval's start in UTC; `suffix` > 0 when that name was taken (a restart within
// the interval): nfcapd.202612070905-1.
std::string archive_file_name(std::uint64_t interval_start_ns, unsigned suffix = 0);
// The interval start a name says; nullopt for other files (nfcapd.current.*, .nfstat, anything else).
std::optional<std::uint64_t> archive_file_start(const std::string& name);

// The archive's files in one directory, written from one thread with the clock passed in (so tests drive time).
// Throws std::system_error when the directory cannot be created or read at open(); later failures (a full
// disk) are counted in stats(), logged, and the writer goes on with the next records.
class ArchiveWriter {
public:
    explicit ArchiveWriter(const ArchiveConfig& config);
    ~ArchiveWriter();
    ArchiveWriter(const ArchiveWriter&) = delete;
    ArchiveWriter& operator=(const ArchiveWriter&) = delete;

    // Creates the directory, salvages dead writers' files, applies retention, starts the interval of `now_ns`.
    void open(std::uint64_t now_ns);
    void write(std::span<const FlowRecord> records, std::uint64_t now_ns);
    // With archive.events: DNS events, and alerts as rendered lines (without newlines).
    void write_dns(std::span<const DnsEvent> events, std::uint64_t now_ns);
    void write_alerts(std::span<const std::string> lines, std::uint64_t now_ns);
    // Ends the interval when `now_ns` is past it (a new file, retention); call at least every few seconds.
    void tick(std::uint64_t now_ns);
    // Completes the open file under its interval's name (at stop).
    void close();
    ArchiveStats stats() const noexcept;

private:
    void start_file(std::uint64_t now_ns);
    void finish_file();
    void salvage();
    void expire(std::uint64_t now_ns);
    std::string final_path(std::uint64_t interval_start_ns) const;
    void failed(const std::string& what, std::uint64_t flows);
    void salvage_events();
    void start_event_files();
    void finish_event_files();
    void write_events(EventFileWriter& file, std::string_view text, std::size_t lines, std::uint64_t now_ns);
    void event_file_failed(EventFileWriter& file, const std::exception& e);

    ArchiveConfig config_;
    NfdumpCompression compression_;
    std::string current_path_;  // nfcapd.current.<pid>.<n>: the open file
    std::uint64_t files_started_ = 0;
    std::unique_ptr<NfdumpFileWriter> file_;
    std::uint64_t interval_start_ns_ = 0;
    LogThrottle error_log_;
    std::uint64_t now_ns_ = 0;
    std::uint64_t closed_bytes_ = 0;  // the completed files (retention lists the directory again)
    std::uint64_t closed_files_ = 0;
    std::string events_path_;                   // "" without archive.events
    std::vector<EventFileWriter> event_files_;  // by EventKind
    fmt::memory_buffer event_text_;
    ArchiveStats stats_;
};

// The sink the shards write into: per-shard stages, a bounded queue and the writer thread. `clock` gives the
// time that rotation follows (the wall clock; tests pass their own).
class Archive {
public:
    explicit Archive(const ArchiveConfig& config, std::function<std::uint64_t()> clock = {});
    ~Archive();
    Archive(const Archive&) = delete;
    Archive& operator=(const Archive&) = delete;

    std::unique_ptr<Stage> stage();
    // Where the alert outputs deliver (behind the finding ledger, beside the alert log); null without
    // archive.events.
    AlertSink* alert_sink() noexcept;
    // Writes what is queued, completes the open file and ends the writer thread. Idempotent.
    void stop();
    ArchiveStats stats() const;
    void write_metrics(MetricSink& sink) const;
    const std::string& path() const noexcept { return path_; }

    // For the stages: a buffer of records to write (moved from), and an empty one to fill next.
    void submit(std::vector<FlowRecord>& records);
    // For the stages: DNS events to write (copied; `events` is cleared).
    void submit_dns(std::vector<DnsEvent>& events);
    bool archives_events() const noexcept { return alert_sink_ != nullptr; }

private:
    void run();

    std::string path_;
    std::size_t max_queued_;
    std::size_t max_queued_events_;
    std::function<std::uint64_t()> clock_;
    ArchiveWriter writer_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    RecordQueue queue_;
    std::vector<DnsEvent> dns_queue_;
    std::vector<std::string> alert_queue_;
    std::uint64_t dropped_ = 0;
    std::uint64_t events_dropped_ = 0;
    LogThrottle event_drop_log_;
    LogThrottle drop_log_;
    bool stopping_ = false;
    ArchiveStats published_;  // the writer's stats as of its last round (under mutex_)
    std::unique_ptr<AlertSink> alert_sink_;
    std::thread thread_;

    friend class ArchiveAlertSink;
    void submit_alerts(std::span<const Alert> alerts);
    void count_event_drops(std::size_t events);
};

}  // namespace flowguard::exporters
