#include <flowguard/core/ordered_batch.hpp>
#include <flowguard/exporters/dns_format.hpp>
#include <flowguard/exporters/flow_format.hpp>
#include <flowguard/exporters/flow_log_source.hpp>

#include <boost/json/parse.hpp>
#include <spdlog/spdlog.h>

#include <fstream>

namespace flowguard::exporters {
namespace {

// Event time of a line: what a flow or DNS event says about when it happened.
std::uint64_t time_of(const FlowRecord& r) {
    return r.time_received_ns ? r.time_received_ns : r.time_flow_end_ns;
}

}  // namespace

LogFormat sniff_log_format(const std::string& path) {
    std::ifstream in(path);
    std::string first;
    char c = 0;
    while (in.get(c)) {
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        if (c == '{') return LogFormat::json_lines;
        first.push_back(c);
        break;
    }
    std::string rest;
    std::getline(in, rest);
    FlowCsvReader csv;
    return csv.read_header(first + rest) ? LogFormat::csv : LogFormat::other;
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
    std::uint64_t number = 0;
    auto refuse = [&](std::uint64_t& errors) {
        ++errors;
        spdlog::debug("{}:{}: line skipped: {}", path_, number, error);
        error.clear();
    };
    for (std::string line; !stop.load(std::memory_order_relaxed) && std::getline(in, line);) {
        ++number;
        if (line.empty() || line == "\r") continue;
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
}

}  // namespace flowguard::exporters
