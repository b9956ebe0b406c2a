#include <flowguard/core/time_format.hpp>
#include <flowguard/exporters/flow_csv.hpp>
#include <flowguard/exporters/flow_format.hpp>
#include <flowguard/exporters/flow_json.hpp>
#include <flowguard/exporters/query_output.hpp>

#include <algorithm>
#include <string>
#include <vector>

namespace flowguard::exporters {
namespace {

enum HeaderKind { kFlowsHeader, kAggregatedHeader, kStatHeader, kSeriesHeader };
constexpr std::size_t kFlushBytes = 1 << 16;

std::string endpoint(const IpAddress& a, std::uint16_t port) {
    return a.is_v6() ? fmt::format("[{}]:{}", a.to_string(), port) : fmt::format("{}:{}", a.to_string(), port);
}

std::string time_text(std::uint64_t ns) {
    return ns == 0 || ns == UINT64_MAX ? std::string("-") : format_iso8601_ms(ns);
}

double percent(std::uint64_t part, std::uint64_t whole) {
    return whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0;
}

// The record an aggregation row stands for: the grouped fields (a key leaves the others zero), the sums and the
// time span.
FlowRecord aggregated_record(const StatRow& row) {
    const GroupKey& k = row.key;
    FlowRecord r;
    r.src_addr = k.src;
    r.dst_addr = k.dst;
    r.src_port = k.src_port;
    r.dst_port = k.dst_port;
    r.proto = k.proto;
    r.sampler_address = k.exporter;
    r.observation_domain_id = k.domain;
    r.in_if = k.in_if;
    r.out_if = k.out_if;
    r.src_as = k.src_as;
    r.dst_as = k.dst_as;
    r.ip_tos = k.tos;
    r.etype = (k.src.is_v6() || k.dst.is_v6()) ? kEtherTypeIPv6 : kEtherTypeIPv4;
    r.time_flow_start_ns = row.totals.first_ns == UINT64_MAX ? 0 : row.totals.first_ns;
    r.time_flow_end_ns = row.totals.last_ns;
    r.packets = row.totals.packets;
    r.bytes = row.totals.bytes;
    return r;
}

void append_flow_line(fmt::memory_buffer& out, const FlowRecord& r) {
    const std::uint64_t ms =
        r.time_flow_end_ns > r.time_flow_start_ns ? (r.time_flow_end_ns - r.time_flow_start_ns) / 1'000'000 : 0;
    fmt::format_to(fmt::appender(out), "{:<24} {:>9.3f} {:<6} {:>26} -> {:<26} {:>9} {:>12}\n",
                   time_text(r.time_flow_start_ns), static_cast<double>(ms) / 1000.0, protocol_text(r.proto),
                   endpoint(r.src_addr, r.src_port), endpoint(r.dst_addr, r.dst_port), r.packets, r.bytes);
}

}  // namespace

std::optional<QueryFormat> query_format_of(std::string_view name) noexcept {
    if (name == "json") return QueryFormat::json;
    if (name == "csv") return QueryFormat::csv;
    if (name == "table") return QueryFormat::table;
    return std::nullopt;
}

void QueryPrinter::header(int kind, std::string_view text) {
    if (last_header_ == kind) return;
    last_header_ = kind;
    fmt::format_to(fmt::appender(buffer_), "{}\n", text);
}

void QueryPrinter::maybe_flush() {
    if (buffer_.size() >= kFlushBytes) flush();
}

void QueryPrinter::flush() {
    if (buffer_.size() == 0) return;
    if (ok_ && std::fwrite(buffer_.data(), 1, buffer_.size(), out_) != buffer_.size()) ok_ = false;
    if (ok_ && std::fflush(out_) != 0) ok_ = false;
    buffer_.clear();
}

void QueryPrinter::flows(std::span<const FlowRecord> records) {
    switch (format_) {
        case QueryFormat::json:
            for (const auto& r : records) append_flow_json(buffer_, r);
            break;
        case QueryFormat::csv:
            header(kFlowsHeader, flow_csv_header());
            for (const auto& r : records) append_flow_csv(buffer_, r);
            break;
        case QueryFormat::table:
            header(kFlowsHeader,
                   fmt::format("{:<24} {:>9} {:<6} {:>26}    {:<26} {:>9} {:>12}", "Date first seen", "Duration",
                               "Proto", "Src IP Addr:Port", "Dst IP Addr:Port", "Packets", "Bytes"));
            for (const auto& r : records) append_flow_line(buffer_, r);
            break;
    }
    maybe_flush();
}

void QueryPrinter::aggregated(std::span<const StatRow> rows) {
    for (const auto& row : rows) {
        const FlowRecord r = aggregated_record(row);
        switch (format_) {
            case QueryFormat::json:
                append_flow_json(buffer_, r);
                buffer_.resize(buffer_.size() - 2);  // "}\n": the flow count joins the object
                fmt::format_to(fmt::appender(buffer_), ",\"Flows\":{}}}\n", row.totals.flows);
                break;
            case QueryFormat::csv:
                header(kAggregatedHeader, std::string(flow_csv_header()) + ",flows");
                append_flow_csv(buffer_, r);
                buffer_.resize(buffer_.size() - 1);
                fmt::format_to(fmt::appender(buffer_), ",{}\n", row.totals.flows);
                break;
            case QueryFormat::table:
                header(kAggregatedHeader, fmt::format("{:<24} {:>9} {:<6} {:>26}    {:<26} {:>9} {:>12} {:>8}",
                                                      "Date first seen", "Duration", "Proto", "Src IP Addr:Port",
                                                      "Dst IP Addr:Port", "Packets", "Bytes", "Flows"));
                append_flow_line(buffer_, r);
                buffer_.resize(buffer_.size() - 1);
                fmt::format_to(fmt::appender(buffer_), " {:>8}\n", row.totals.flows);
                break;
        }
        maybe_flush();
    }
}

void QueryPrinter::statistic(const StatTable& table, std::span<const StatRow> rows,
                             std::optional<std::uint64_t> bucket_ns) {
    const auto& spec = table.spec();
    const auto order = stat_order_name(spec.order);
    const std::string time =
        bucket_ns ? format_iso8601_seconds(static_cast<std::int64_t>(*bucket_ns / 1'000'000'000)) : "";
    switch (format_) {
        case QueryFormat::json:
            for (const auto& row : rows) {
                auto out = fmt::appender(buffer_);
                if (bucket_ns)
                    fmt::format_to(out, "{{\"time\":\"{}\",", time);
                else
                    buffer_.push_back('{');
                fmt::format_to(out,
                               "\"stat\":\"{}\",\"order\":\"{}\",\"key\":\"{}\",\"flows\":{},\"packets\":{},"
                               "\"bytes\":{},\"first\":\"{}\",\"last\":\"{}\"}}\n",
                               spec.name, order, table.key_text(row.key), row.totals.flows, row.totals.packets,
                               row.totals.bytes, time_text(row.totals.first_ns), time_text(row.totals.last_ns));
            }
            break;
        case QueryFormat::csv:
            header(kStatHeader,
                   bucket_ns ? "time,stat,order,key,flows,packets,bytes" : "stat,order,key,flows,packets,bytes");
            for (const auto& row : rows) {
                if (bucket_ns) fmt::format_to(fmt::appender(buffer_), "{},", time);
                fmt::format_to(fmt::appender(buffer_), "{},{},{},{},{},{}\n", spec.name, order, table.key_text(row.key),
                               row.totals.flows, row.totals.packets, row.totals.bytes);
            }
            break;
        case QueryFormat::table: {
            last_header_ = -1;
            std::vector<std::string> keys;
            std::size_t width = 3;
            for (const auto& row : rows) {
                keys.push_back(table.key_text(row.key));
                width = std::max(width, keys.back().size());
            }
            const auto& all = table.totals();
            auto out = fmt::appender(buffer_);
            fmt::format_to(out, "{}Top {} {} ordered by {}:\n", bucket_ns ? time + "  " : "", rows.size(), spec.name,
                           order);
            fmt::format_to(out, "{:<{}} {:>10} {:>6} {:>12} {:>6} {:>15} {:>6} {:>10} {:>12} {:>8}\n", "Key", width,
                           "Flows", "%", "Packets", "%", "Bytes", "%", "pps", "bps", "bpp");
            for (std::size_t i = 0; i < rows.size(); ++i) {
                const auto& t = rows[i].totals;
                fmt::format_to(out, "{:<{}} {:>10} {:>6.1f} {:>12} {:>6.1f} {:>15} {:>6.1f} {:>10} {:>12} {:>8}\n",
                               keys[i], width, t.flows, percent(t.flows, all.flows), t.packets,
                               percent(t.packets, all.packets), t.bytes, percent(t.bytes, all.bytes),
                               order_value(t, StatOrder::pps), order_value(t, StatOrder::bps),
                               order_value(t, StatOrder::bpp));
            }
            buffer_.push_back('\n');
            break;
        }
    }
    maybe_flush();
}

void QueryPrinter::series(std::uint64_t bucket_ns, const GroupTotals& totals) {
    const std::string time = format_iso8601_seconds(static_cast<std::int64_t>(bucket_ns / 1'000'000'000));
    auto out = fmt::appender(buffer_);
    switch (format_) {
        case QueryFormat::json:
            fmt::format_to(out, "{{\"time\":\"{}\",\"flows\":{},\"packets\":{},\"bytes\":{}}}\n", time, totals.flows,
                           totals.packets, totals.bytes);
            break;
        case QueryFormat::csv:
            header(kSeriesHeader, "time,flows,packets,bytes");
            fmt::format_to(out, "{},{},{},{}\n", time, totals.flows, totals.packets, totals.bytes);
            break;
        case QueryFormat::table:
            header(kSeriesHeader, fmt::format("{:<21} {:>10} {:>14} {:>18}", "Time", "Flows", "Packets", "Bytes"));
            fmt::format_to(out, "{:<21} {:>10} {:>14} {:>18}\n", time, totals.flows, totals.packets, totals.bytes);
            break;
    }
    maybe_flush();
}

void QueryPrinter::summary(std::uint64_t flows, std::uint64_t packets, std::uint64_t bytes, std::uint64_t read,
                           std::uint64_t files) {
    if (format_ != QueryFormat::table) return;
    fmt::format_to(fmt::appender(buffer_),
                   "Summary: {} flows, {} packets, {} bytes matched; {} flows read in {} files\n", flows, packets,
                   bytes, read, files);
    flush();
}

}  // namespace flowguard::exporters
