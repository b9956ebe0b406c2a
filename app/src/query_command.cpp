// flowguard query: the archive read back through an nfdump filter, as flows, top-N statistics (-s),
// aggregates (-a/-A) or time series (--every). The summary (files, flows read and matched, damage) is the last
// line on stderr, as for the other commands.
#include "commands.hpp"
#include "wiring.hpp"

#include <flowguard/core/clock.hpp>
#include <flowguard/core/config.hpp>
#include <flowguard/core/time_format.hpp>
#include <flowguard/exporters/archive_scan.hpp>
#include <flowguard/exporters/dns_name_index.hpp>
#include <flowguard/exporters/event_archive.hpp>
#include <flowguard/exporters/query_output.hpp>

#include <boost/json/parse.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>
#include <thread>

namespace flowguard::app {
namespace {

using exporters::GroupTotals;

constexpr std::uint64_t kDnsLookbackNs = 86'400 * kSecondNs;
using exporters::StatSpec;
using exporters::StatTable;

// "--from" / "--to" into the window; false (logged) when one does not parse.
bool parse_window(const QueryOptions& o, exporters::ScanWindow& w) {
    const std::uint64_t now = wall_clock_ns();
    for (auto [text, out, name] : {std::tuple{&o.from, &w.from_ns, "--from"}, std::tuple{&o.to, &w.to_ns, "--to"}}) {
        if (!*text) continue;
        const auto t = parse_time_argument(**text, now);
        if (!t) {
            spdlog::error("{} '{}': not a time (2026-12-07T10:00:00Z, \"2026-12-07 10:00\", epoch seconds, -2h, ...)",
                          name, **text);
            return false;
        }
        *out = *t;
    }
    if (w.from_ns >= w.to_ns) {
        spdlog::error("--from must be before --to");
        return false;
    }
    return true;
}

std::string joined(const std::vector<std::string>& words) {
    std::string text;
    for (const auto& w : words) text += (text.empty() ? "" : " ") + w;
    return text;
}

// A terminal line that says how far the scan is, at most four times a second.
class ProgressLine {
public:
    explicit ProgressLine(bool enabled) : enabled_(enabled && ::isatty(STDERR_FILENO) == 1) {}
    ~ProgressLine() {
        if (shown_) std::fprintf(stderr, "\r\033[K");
    }
    void update(const exporters::ScanProgress& p) {
        if (!enabled_) return;
        const auto now = std::chrono::steady_clock::now();
        if (now - last_ < std::chrono::milliseconds(250)) return;
        last_ = now;
        shown_ = true;
        const double share =
            p.bytes_total ? 100.0 * static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total) : 0;
        std::fprintf(stderr, "\r\033[Kquery: file %zu/%zu (%.0f%%), %llu flows read, %llu matched", p.files_done,
                     p.files_total, share, static_cast<unsigned long long>(p.flows_read),
                     static_cast<unsigned long long>(p.flows_matched));
        std::fflush(stderr);
    }

private:
    bool enabled_;
    bool shown_ = false;
    std::chrono::steady_clock::time_point last_{};
};

// What the query collects while scanning: flows go straight out; statistics, aggregates and series are kept
// (per bucket with --every) and printed at the end.
class Collected {
public:
    std::vector<StatSpec> stats;
    std::optional<StatSpec> aggregation;
    std::uint64_t every_ns = 0;
    std::map<std::uint64_t, std::vector<StatTable>> tables;  // by bucket (0 without --every)
    std::map<std::uint64_t, GroupTotals> series;
    GroupTotals matched;

    bool grouping() const { return !stats.empty() || aggregation; }
    // Totals and series read volumes and times; each statistic says what its groups read.
    bool reads_core_fields_only() const {
        return std::all_of(stats.begin(), stats.end(), [](const StatSpec& s) { return s.reads_core_fields_only(); }) &&
               (!aggregation || aggregation->reads_core_fields_only());
    }
    std::vector<StatTable>& tables_for(std::uint64_t bucket) {
        auto [it, added] = tables.try_emplace(bucket);
        if (added) {
            for (const auto& s : stats) it->second.emplace_back(s);
            if (aggregation) it->second.emplace_back(*aggregation);
        }
        return it->second;
    }
    void add(std::span<const FlowRecord> records) {
        for (const auto& r : records) {
            matched.add(r);
            const std::uint64_t bucket = every_ns ? r.time_flow_start_ns / every_ns * every_ns : 0;
            if (!grouping()) {
                series[bucket].add(r);
                continue;
            }
            if (current == nullptr || bucket != current_bucket) {  // a map lookup per bucket change, not per record
                current = &tables_for(bucket);
                current_bucket = bucket;
            }
            for (auto& t : *current) t.add(r);
        }
    }

    // A scan thread's share, added in.
    void merge(Collected& part) {
        matched.merge(part.matched);
        for (const auto& [bucket, totals] : part.series) series[bucket].merge(totals);
        for (auto& [bucket, theirs] : part.tables) {
            auto& mine = tables_for(bucket);
            for (std::size_t i = 0; i < theirs.size(); ++i) mine[i].merge(std::move(theirs[i]));
        }
    }

private:
    std::vector<StatTable>* current = nullptr;
    std::uint64_t current_bucket = 0;
};

void print_collected(Collected& c, const QueryOptions& o, exporters::QueryPrinter& out) {
    if (!c.grouping()) {
        for (const auto& [bucket, totals] : c.series) out.series(bucket, totals);
        return;
    }
    for (auto& [bucket, tables] : c.tables) {
        const std::optional<std::uint64_t> when = c.every_ns ? std::optional(bucket) : std::nullopt;
        for (std::size_t i = 0; i < c.stats.size(); ++i) out.statistic(tables[i], tables[i].top(o.top), when);
        if (!c.aggregation) continue;
        auto rows = tables.back().top(0);
        std::stable_sort(rows.begin(), rows.end(),
                         [](const auto& a, const auto& b) { return a.totals.first_ns < b.totals.first_ns; });
        if (o.limit && rows.size() > *o.limit) rows.resize(*o.limit);
        out.aggregated(rows);
    }
}

bool setup(const QueryOptions& o, Collected& c) {
    try {
        for (const auto& s : o.stats) c.stats.push_back(StatSpec::parse(s));
        if (o.aggregate || o.aggregate_fields) {
            StatSpec a;
            a.name = "aggregate";
            a.fields = o.aggregate_fields ? StatSpec::parse_fields(*o.aggregate_fields) : exporters::kFiveTuple;
            c.aggregation = a;
        }
        if (o.every) {
            try {
                c.every_ns = parse_duration_ns(*o.every);
            } catch (const ConfigError& e) {
                throw std::invalid_argument(std::string("--every: ") + e.what());
            }
            if (c.every_ns < kSecondNs) throw std::invalid_argument("--every must be at least 1s");
        }
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return false;
    }
    return true;
}

// The archives' directories of DNS events and alerts (event_archive.hpp) that exist: the configured
// archive's archive.events_path, <DIR>.events for another directory.
std::vector<std::string> event_directories(const Config& config, const std::vector<std::string>& roots) {
    std::vector<std::string> out;
    for (const auto& root : roots) {
        std::error_code ec;
        if (!std::filesystem::is_directory(root, ec)) continue;
        ArchiveConfig archive = config.archive;
        if (archive.path.empty() || !exporters::same_directory(root, archive.path)) {
            archive.path = root;
            archive.events_path.clear();
        }
        auto events = exporters::archive_events_path(archive);
        if (std::filesystem::is_directory(events, ec)) out.push_back(std::move(events));
    }
    return out;
}

// When an archived event happened: a DNS event's time; the latest time an alert line carries (a resolved
// alert's resolution, an update's last evidence, an open one's report).
std::optional<std::uint64_t> event_time(exporters::EventKind kind, std::string_view line) {
    boost::system::error_code ec;
    const auto value = boost::json::parse(line, ec);
    if (ec || !value.is_object()) return std::nullopt;
    const auto& o = value.as_object();
    if (kind == exporters::EventKind::dns) {
        const auto* t = o.if_contains("time_ns");
        if (t == nullptr || !t->is_number()) return std::nullopt;
        return t->to_number<std::uint64_t>();
    }
    std::optional<std::uint64_t> latest;
    for (const char* key : {"raised", "last_seen", "resolved"}) {
        const auto* t = o.if_contains(key);
        if (t == nullptr || !t->is_string()) continue;
        if (const auto ns = parse_iso8601_ns(t->as_string())) latest = std::max(latest.value_or(0), *ns);
    }
    return latest;
}

// --events: the stored lines of the window, oldest file first.
int print_events(const QueryOptions& o, const std::vector<std::string>& directories,
                 const exporters::ScanWindow& window) {
    if (!o.filter.empty() || !o.stats.empty() || o.aggregate || o.aggregate_fields || o.every ||
        (o.format && *o.format != "json")) {
        spdlog::error("--events prints JSON lines as stored: no filter, -s, -a, -A, --every or --format {}",
                      o.format.value_or("json"));
        return 2;
    }
    if (directories.empty()) {
        spdlog::error("query: no DNS events or alerts in this archive (archive.events writes them beside it)");
        return 2;
    }
    const auto kind = *o.events == "dns" ? exporters::EventKind::dns : exporters::EventKind::alerts;
    std::signal(SIGPIPE, SIG_IGN);
    std::uint64_t printed = 0;
    std::uint64_t untimed = 0;
    exporters::EventScanCounters total;
    for (const auto& directory : directories) {
        const auto scanned =
            exporters::scan_event_archive(directory, kind, window.from_ns, window.to_ns, [&](std::string_view line) {
                const auto t = event_time(kind, line);
                if (!t) {
                    ++untimed;
                    return;
                }
                if (*t < window.from_ns || *t >= window.to_ns || (o.limit && printed >= *o.limit)) return;
                std::fwrite(line.data(), 1, line.size(), stdout);
                std::fputc('\n', stdout);
                ++printed;
            });
        total.files += scanned.files;
        total.lines += scanned.lines;
        total.unreadable_files += scanned.unreadable_files;
        total.damaged_files += scanned.damaged_files;
    }
    std::fflush(stdout);
    print_summary(boost::json::object{{"events", *o.events},
                                      {"files", total.files},
                                      {"lines_read", total.lines},
                                      {"lines_printed", printed},
                                      {"lines_without_time", untimed},
                                      {"unreadable_files", total.unreadable_files},
                                      {"damaged_files", total.damaged_files}});
    return 0;
}

}  // namespace

int run_query(const Config& config, const QueryOptions& o) {
    exporters::ScanWindow window;
    Collected collected;
    if (!parse_window(o, window) || !setup(o, collected)) return 2;
    std::vector<std::string> roots = o.archives;
    roots.insert(roots.end(), o.files.begin(), o.files.end());
    if (roots.empty())
        roots.push_back(config.archive.path.empty() ? std::string(kDefaultArchive) : config.archive.path);
    const auto events = event_directories(config, roots);
    if (o.events) {
        try {
            return print_events(o, events, window);
        } catch (const std::exception& e) {
            spdlog::error("query: {}", e.what());
            return 2;
        }
    }
    const std::string text = joined(o.filter);
    exporters::DnsNameIndex names;
    exporters::DnsLogCounters dns;
    // `name` terms: the DNS logs given, else the archive's own DNS files (read only when a term asks).
    const bool from_archive = o.dns_logs.empty() && !events.empty();
    const std::string dns_source = from_archive ? "the archive's DNS files" : "the DNS logs";
    const auto load_dns = [&]() {
        // Answers are cached for their TTL: a day before --from still names the addresses flows went to.
        const std::uint64_t dns_from = window.from_ns > kDnsLookbackNs ? window.from_ns - kDnsLookbackNs : 0;
        const auto add = [&](const exporters::DnsLogCounters& read) {
            dns.lines += read.lines;
            dns.responses += read.responses;
            dns.bad_lines += read.bad_lines;
            dns.files += read.files;
        };
        for (const auto& path : o.dns_logs) add(exporters::load_dns_log(path, dns_from, window.to_ns, names));
        if (from_archive)
            for (const auto& directory : events)
                add(exporters::load_dns_archive(directory, dns_from, window.to_ns, names));
    };
    bool dns_loaded = false;
    exporters::NameAddresses name_addresses;
    if (!o.dns_logs.empty() || from_archive) {
        name_addresses = [&](std::string_view name) {
            if (!dns_loaded) {
                dns_loaded = true;
                load_dns();  // throws: reported below, as a filter that cannot be compiled
            }
            auto addresses = names.addresses_under(name);
            if (addresses.empty())
                spdlog::warn("query: no DNS answer for {} in {}: `name {}` matches nothing", name, dns_source, name);
            return addresses;
        };
    }
    exporters::FlowFilter filter;
    try {
        filter = exporters::FlowFilter::compile(text, name_addresses);
    } catch (const exporters::FilterError& e) {
        std::fprintf(stderr, "flowguard: filter: %s\n  %s\n  %*s^\n", e.what(), text.c_str(),
                     static_cast<int>(e.position()), "");
        return 2;
    } catch (const std::exception& e) {
        spdlog::error("query: {}", e.what());  // a DNS log or the archive's DNS directory cannot be read
        return 2;
    }
    std::optional<exporters::ArchiveScan> scan;
    try {
        scan.emplace(roots, window, filter);
    } catch (const std::exception& e) {
        spdlog::error("query: {}", e.what());
        return 2;
    }
    const auto format =
        o.format ? *exporters::query_format_of(*o.format)
                 : (::isatty(STDOUT_FILENO) == 1 ? exporters::QueryFormat::table : exporters::QueryFormat::json);
    std::signal(SIGPIPE, SIG_IGN);  // `query | head`: a failed write ends the scan, quietly
    exporters::QueryPrinter out(format, stdout);
    const unsigned threads = o.threads ? o.threads : std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
    std::uint64_t listed = 0;
    const auto started = std::chrono::steady_clock::now();
    {
        ProgressLine progress(o.progress);
        const auto show = [&](const exporters::ScanProgress& p) { progress.update(p); };
        if (collected.grouping() || collected.every_ns) {
            // Statistics do not depend on order: each scan thread groups into its own share, added up after.
            std::vector<Collected> parts(threads, collected);
            std::vector<exporters::ArchiveScan::OnFlows> consumers;
            for (auto& part : parts) consumers.emplace_back([&part](std::span<const FlowRecord> r) { part.add(r); });
            if (collected.reads_core_fields_only()) scan->hand_on_core_fields_only();
            scan->run_unordered(consumers, show);
            for (auto& part : parts) collected.merge(part);
        } else {
            scan->run(
                [&](std::span<const FlowRecord> records) {
                    if (o.limit) records = records.first(std::min<std::size_t>(records.size(), *o.limit - listed));
                    for (const auto& r : records) collected.matched.add(r);
                    listed += records.size();
                    out.flows(records);
                },
                show, [&] { return !out.ok() || (o.limit && listed >= *o.limit); }, threads);
        }
    }
    print_collected(collected, o, out);
    const auto& c = scan->counters();
    out.summary(collected.matched.flows, collected.matched.packets, collected.matched.bytes, c.flows_read, c.files);
    out.flush();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    boost::json::object summary{
        {"files", c.files},
        {"threads", threads},
        {"open_files", c.open_files},
        {"unreadable_files", c.unreadable_files},
        {"damaged_blocks", c.damaged_blocks},
        {"flows_read", c.flows_read},
        {"flows_matched", collected.matched.flows},
        {"dns_responses", dns.responses},
        {"dns_bad_lines", dns.bad_lines},
        {"dns_files", dns.files},
        {"milliseconds", static_cast<std::uint64_t>(seconds * 1000)},
        {"flows_read_per_second",
         seconds > 0 ? static_cast<std::uint64_t>(static_cast<double>(c.flows_read) / seconds) : 0}};
    print_summary(summary);
    return 0;
}

}  // namespace flowguard::app
