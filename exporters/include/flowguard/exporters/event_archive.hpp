#pragma once
// DNS events and alerts in the archive: gzip'd JSON lines in a directory beside the flow archive's
// (archive.events_path, by default <archive.path>.events: `nfdump -R` stops at the first file that is not an
// nfcapd file, in subdirectories too, so they cannot share the flows' directory). One file per kind and
// interval, rotated and expired with the flow files:
//   dns.202612070905.jsonl.gz     passive DNS events, as `meter --dns-log` writes them (dns_format.hpp)
//   alerts.202612070905.jsonl.gz  the alerts the alert outputs received, in flowguard's schema (docs/ALERTS.md)
// `zcat | jq` and `flowguard query --events` read them. A file is a series of gzip members of whole lines
// (gzip reads concatenated members as one stream); each member is on disk whole before the next begins, so
// a crash loses at most the lines not yet in a member. The open file, <kind>.<start>.current.<pid>.<n> (a
// `*.gz` glob skips it), is cut back to its last whole member and completed at the next start.
#include <flowguard/exporters/config.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flowguard::exporters {

enum class EventKind : std::uint8_t { dns, alerts };
inline constexpr EventKind kEventKinds[] = {EventKind::dns, EventKind::alerts};
std::string_view event_kind_name(EventKind kind) noexcept;

// archive.events_path, or <archive.path>.events when it is not set.
std::string archive_events_path(const ArchiveConfig& config);
// Whether two paths name the same directory as written ("dir/", "dir" and "a/../dir" are one; no symlinks
// followed): the configuration's check that events stay out of the flows' directory, and query's match of
// an --archive DIR with archive.path.
bool same_directory(const std::string& a, const std::string& b);

// dns.202612070905.jsonl.gz; `suffix` > 0 when that name was taken (a restart within the interval):
// dns.202612070905-1.jsonl.gz.
std::string event_file_name(EventKind kind, std::uint64_t interval_start_ns, unsigned suffix = 0);

struct EventFileInfo {
    EventKind kind = EventKind::dns;
    std::uint64_t start_ns = 0;  // the interval's start
    bool open = false;           // a writer's open file (<kind>.<start>.current.<pid>.<n>)
    int pid = 0;                 // the writer's, for an open file
};
// What a name in the events directory is; nullopt for other files.
std::optional<EventFileInfo> event_file_info(const std::string& name);

struct EventFileCounters {
    std::uint64_t lines = 0;
    std::uint64_t members = 0;         // whole gzip members
    std::uint64_t complete_bytes = 0;  // the file's length up to the end of its last whole member
    std::uint64_t complete_lines = 0;  // the lines of the whole members
    bool incomplete = false;           // ends inside a member (an open file, or one left by a crash)
    bool damaged = false;              // data that is not gzip: read up to there
};
// Calls `line` with each whole line (without its newline) of the file's members, in order: the whole lines of
// a last, incomplete member too. Throws std::runtime_error when the file cannot be opened or read.
EventFileCounters read_event_file(const std::string& path, const std::function<void(std::string_view)>& line);

// One kind's files, written from the archive's writer thread: lines gather in memory and leave as one gzip
// member when `member_bytes` of them wait, when the oldest has waited `member_age_ns`, and at finish(). Every
// method that writes throws std::runtime_error (a full disk); the caller counts the lines lost and abandons the
// file, which the next start salvages.
class EventFileWriter {
public:
    EventFileWriter(std::string directory, EventKind kind, std::uint64_t member_age_ns,
                    std::size_t member_bytes = 1u << 20);
    ~EventFileWriter();
    EventFileWriter(EventFileWriter&&) noexcept;
    EventFileWriter(const EventFileWriter&) = delete;
    EventFileWriter& operator=(const EventFileWriter&) = delete;
    EventFileWriter& operator=(EventFileWriter&&) = delete;

    EventKind kind() const noexcept { return kind_; }
    bool is_open() const noexcept { return fd_ >= 0; }
    // Opens <kind>.<start>.current.<pid>.<serial>.
    void start(std::uint64_t interval_start_ns, std::uint64_t serial);
    // Whole lines, each ending in '\n'; `lines` says how many (for the counters).
    void add(std::string_view text, std::size_t lines, std::uint64_t now_ns);
    // Writes the waiting lines as a member when they are due at `now_ns`.
    void tick(std::uint64_t now_ns);
    // The waiting lines as a member, synced, renamed to the interval's name; nothing happens to a file that
    // was never written to (it is removed).
    void finish();
    // Leaves the open file as it is (its whole members are salvaged at the next start); the waiting lines are
    // dropped. Returns how many.
    std::uint64_t abandon() noexcept;
    std::uint64_t bytes_written() const noexcept { return bytes_written_; }
    std::uint64_t lines_waiting() const noexcept { return waiting_lines_; }
    std::uint64_t lines_written() const noexcept { return lines_written_; }  // in whole members, every file

private:
    void write_member();
    std::string final_path() const;

    std::string directory_;
    EventKind kind_;
    std::uint64_t member_age_ns_;
    std::size_t member_bytes_;
    int fd_ = -1;
    std::string current_path_;
    std::uint64_t interval_start_ns_ = 0;
    std::string waiting_;
    std::uint64_t waiting_lines_ = 0;
    std::uint64_t waiting_since_ns_ = 0;
    std::uint64_t bytes_written_ = 0;  // this file's
    std::uint64_t lines_written_ = 0;
    std::string compressed_;
};

struct EventSalvage {
    std::string name;  // the dead writer's file
    std::string into;  // the complete file made of it ("" when it had no whole member: removed)
    std::uint64_t lines = 0;
    bool cut = false;   // its last member was incomplete
    std::string error;  // it could not be cut, renamed or removed (left as it is)
};
// Completes the open files of writers that are gone (pid not alive, or this process's): cut back to their
// last whole member and renamed to their interval's name. Throws std::system_error when the directory cannot
// be listed; a file that cannot be completed is reported in its entry's `error`.
std::vector<EventSalvage> salvage_event_files(const std::string& directory);

// The lines of `kind` whose files may hold times in [from_ns, to_ns), oldest file first: files whose interval
// can overlap the window (an interval is at most a day; a line may be written up to an hour after its time),
// complete ones and the open files of running writers. Lines are passed as stored; the caller checks each
// line's own time.
struct EventScanCounters {
    std::uint64_t files = 0;
    std::uint64_t lines = 0;
    std::uint64_t unreadable_files = 0;  // logged
    std::uint64_t damaged_files = 0;     // data that is not gzip, or a complete file cut short: logged
};
EventScanCounters scan_event_archive(const std::string& directory, EventKind kind, std::uint64_t from_ns,
                                     std::uint64_t to_ns, const std::function<void(std::string_view)>& line);

}  // namespace flowguard::exporters
