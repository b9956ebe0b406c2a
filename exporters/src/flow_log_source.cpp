#include <flowguard/core/ordered_batch.hpp>
#include <flowguard/exporters/dns_format.hpp>
#include <flowguard/exporters/flow_format.hpp>
#include <flowguard/exporters/flow_log_source.hpp>

#include <boost/json/parse.hpp>
#include <spdlog/spdlog.h>

#include <fstream>
#include <string_view>

namespace flowguard::exporters {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
constexpr std::size_t kSniffBytes = 64 * 1024;
constexpr std::size_t kSniffLines = 16;
constexpr std::uint64_t kSkippedLinesShown = 5;  // per file, at warning level; all of them at debug

// Event time of a line: what a flow or DNS event says about when it happened.
std::uint64_t time_of(const FlowRecord& r) {
    return r.time_received_ns ? r.time_received_ns : r.time_flow_end_ns;
}

}  // namespace

std::string_view without_bom(std::string_view line) {
    return line.starts_with(kUtf8Bom) ? line.substr(kUtf8Bom.size()) : line;
}

LogFormat sniff_log_format(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::string head(kSniffBytes, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<std::size_t>(in.gcount()));
    // Text only: a capture (pcap, pcapng) has NUL bytes in its first header.
    if (head.empty() || head.find('\0') != std::string::npos) return LogFormat::other;
    std::string_view text = without_bom(head);
    std::size_t lines = 0;
    while (!text.empty() && lines < kSniffLines) {
        const auto end = text.find('\n');
        auto line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
        if (line.empty()) continue;
        // A log's first line may be cut (the tail of a rotated file, `tail -c`): a later line decides.
        if (line.front() == '{') return LogFormat::json_lines;
        if (lines++ == 0 && FlowCsvReader().read_header(line)) return LogFormat::csv;
    }
    return LogFormat::other;
}

void FlowLogSource::run(const std::atomic<bool>& stop, RecordSink& sink) {
    std::ifstream in(path_);
    opened_ = static_cast<bool>(in);
    if (!opened_) return;
    OrderedBatch batch(sink);
    const bool csv = sniff_log_format(path_) == LogFormat::csv;
    FlowCsvReader csv_reader;
    bool header_seen = false;
    std::string error;
    std::uint64_t number = 0, skipped = 0;
    auto refuse = [&](std::uint64_t& errors) {
        ++errors;
        if (++skipped <= kSkippedLinesShown)
            spdlog::warn("{}:{}: line skipped: {}", path_, number, error);
        else
            spdlog::debug("{}:{}: line skipped: {}", path_, number, error);
        error.clear();
    };
    for (std::string text; !stop.load(std::memory_order_relaxed) && std::getline(in, text);) {
        ++number;
        std::string_view line = number == 1 ? without_bom(text) : std::string_view(text);
        if (line.ends_with('\r')) line.remove_suffix(1);
        if (line.empty()) continue;
        if (csv) {
            if (!header_seen) {
                header_seen = csv_reader.read_header(line);  // the first line that is not blank
                continue;
            }
            ++counters_.csv_lines;
            FlowRecord record;
            if (csv_reader.read(line, record, error))
                batch.add(record, time_of(record));
            else
                refuse(counters_.csv_errors);
            continue;
        }
        ++counters_.json_lines;
        boost::system::error_code ec;
        const auto value = boost::json::parse(line, ec);
        if (ec || !value.is_object()) {
            error = ec ? ec.message() : "not a JSON object";
            refuse(counters_.json_errors);
            continue;
        }
        const auto& object = value.as_object();
        if (is_dns_json(object)) {
            DnsEvent event;
            if (read_dns_json(object, event, error))
                batch.add(event, event.time_ns);
            else
                refuse(counters_.json_errors);
        } else {
            FlowRecord record;
            if (read_flow_json(object, record, error))
                batch.add(record, time_of(record));
            else
                refuse(counters_.json_errors);
        }
    }
    batch.hand_over();
    if (skipped > kSkippedLinesShown)
        spdlog::warn("{}: {} lines skipped in all (the first {} named above; every one at --log-level debug)", path_,
                     skipped, kSkippedLinesShown);
}

}  // namespace flowguard::exporters
