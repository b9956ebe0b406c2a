#pragma once
// Flow records as CSV: a fixed, documented subset of the fields for spreadsheets and shell tools, with a
// header line. The reader maps columns by that header, so a file whose columns were cut or reordered by a
// tool still reads; columns it does not know are ignored.
#include <flowguard/core/flow_record.hpp>

#include <fmt/format.h>

#include <string>
#include <string_view>
#include <vector>

namespace flowguard::exporters {

inline constexpr std::string_view kFlowCsvHeader =
    "type,time_received_ns,sampler_address,sequence_num,sampling_rate,time_flow_start_ns,time_flow_end_ns,"
    "src_addr,dst_addr,proto,src_port,dst_port,icmp_type,icmp_code,packets,bytes,tcp_flags,ip_tos,in_if,out_if,"
    "src_as,dst_as,next_hop";

void append_flow_csv(fmt::memory_buffer& out, const FlowRecord& r);
inline std::string_view flow_csv_header() {
    return kFlowCsvHeader;
}  // without the trailing newline

class FlowCsvReader {
public:
    // True for a header line naming at least the addresses; remembers the column order.
    bool read_header(std::string_view line);
    // False, with the reason in `error`, for a line whose columns do not parse.
    bool read(std::string_view line, FlowRecord& r, std::string& error) const;

    enum class Column : std::uint8_t;  // one per header name the reader knows (flow_csv.cpp)

private:
    std::vector<Column> columns_;
};

}  // namespace flowguard::exporters
