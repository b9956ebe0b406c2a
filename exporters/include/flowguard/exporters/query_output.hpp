#pragma once
// What `flowguard query` prints, in three formats:
//   json   one object per line: flows in goflow2's schema (flow_json.hpp; aggregated flows add "Flows"),
//          statistics rows {"stat", "order", "key", "flows", "packets", "bytes", "first", "last"}, series rows
//          {"time", "flows", "packets", "bytes"}; rows of a bucketed query (--every) carry "time" too.
//   csv    a header line per kind of row, then rows (flows with flow_csv.hpp's columns).
//   table  aligned columns for a terminal, in the spirit of nfdump's line output and -s tables.
#include <flowguard/exporters/flow_statistics.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <span>
#include <string_view>

namespace flowguard::exporters {

enum class QueryFormat : std::uint8_t { json, csv, table };
std::optional<QueryFormat> query_format_of(std::string_view name) noexcept;

class QueryPrinter {
public:
    QueryPrinter(QueryFormat format, std::FILE* out) : format_(format), out_(out) {}
    ~QueryPrinter() { flush(); }
    QueryPrinter(const QueryPrinter&) = delete;
    QueryPrinter& operator=(const QueryPrinter&) = delete;

    void flows(std::span<const FlowRecord> records);
    // -a/-A: each row as a flow record holding the aggregated fields, with its flow count.
    void aggregated(std::span<const StatRow> rows);
    // -s: one statistic's rows; `bucket_ns` for --every.
    void statistic(const StatTable& table, std::span<const StatRow> rows, std::optional<std::uint64_t> bucket_ns);
    // --every without -s: the totals of one bucket.
    void series(std::uint64_t bucket_ns, const GroupTotals& totals);
    // Table format only: the closing line (nfdump's "Summary").
    void summary(std::uint64_t flows, std::uint64_t packets, std::uint64_t bytes, std::uint64_t read,
                 std::uint64_t files);

    // False once a write failed (a closed pipe: `query ... | head`): the caller stops scanning.
    bool ok() const noexcept { return ok_; }
    void flush();

private:
    void header(int kind, std::string_view text);
    void maybe_flush();

    QueryFormat format_;
    std::FILE* out_;
    fmt::memory_buffer buffer_;
    int last_header_ = -1;
    bool ok_ = true;
};

}  // namespace flowguard::exporters
