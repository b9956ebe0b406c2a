#include "text_append.hpp"

#include <flowguard/exporters/flow_csv.hpp>
#include <flowguard/exporters/flow_format.hpp>

#include <fmt/compile.h>

#include <array>
#include <charconv>
#include <limits>

namespace flowguard::exporters {

enum class FlowCsvReader::Column : std::uint8_t {
    ignored,
    type,
    time_received_ns,
    sampler_address,
    sequence_num,
    sampling_rate,
    time_flow_start_ns,
    time_flow_end_ns,
    src_addr,
    dst_addr,
    proto,
    src_port,
    dst_port,
    icmp_type,
    icmp_code,
    packets,
    bytes,
    tcp_flags,
    ip_tos,
    in_if,
    out_if,
    src_as,
    dst_as,
    next_hop,
};

namespace {

using Column = FlowCsvReader::Column;

// Column names as the header writes them, in Column's order (after `ignored`).
constexpr std::array<std::string_view, 23> kNames{"type",
                                                  "time_received_ns",
                                                  "sampler_address",
                                                  "sequence_num",
                                                  "sampling_rate",
                                                  "time_flow_start_ns",
                                                  "time_flow_end_ns",
                                                  "src_addr",
                                                  "dst_addr",
                                                  "proto",
                                                  "src_port",
                                                  "dst_port",
                                                  "icmp_type",
                                                  "icmp_code",
                                                  "packets",
                                                  "bytes",
                                                  "tcp_flags",
                                                  "ip_tos",
                                                  "in_if",
                                                  "out_if",
                                                  "src_as",
                                                  "dst_as",
                                                  "next_hop"};

template <class T>
bool number(std::string_view text, T& out) {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size() || v > std::numeric_limits<T>::max()) return false;
    out = static_cast<T>(v);
    return true;
}

bool address(std::string_view text, IpAddress& out) {
    const auto parsed = IpAddress::parse(text);
    if (!parsed) return false;
    out = *parsed;
    return true;
}

bool read_field(Column column, std::string_view text, FlowRecord& r) {
    switch (column) {
        case Column::ignored:
            return true;
        case Column::type:
            r.type = flow_type_from_name(text);
            return true;
        case Column::time_received_ns:
            return number(text, r.time_received_ns);
        case Column::sampler_address:
            return address(text, r.sampler_address);
        case Column::sequence_num:
            return number(text, r.sequence_num);
        case Column::sampling_rate:
            return number(text, r.sampling_rate);
        case Column::time_flow_start_ns:
            return number(text, r.time_flow_start_ns);
        case Column::time_flow_end_ns:
            return number(text, r.time_flow_end_ns);
        case Column::src_addr:
            return address(text, r.src_addr);
        case Column::dst_addr:
            return address(text, r.dst_addr);
        case Column::proto: {
            const auto p = protocol_number(text);
            if (p) r.proto = *p;
            return p.has_value();
        }
        case Column::src_port:
            return number(text, r.src_port);
        case Column::dst_port:
            return number(text, r.dst_port);
        case Column::icmp_type:
            return number(text, r.icmp_type);
        case Column::icmp_code:
            return number(text, r.icmp_code);
        case Column::packets:
            return number(text, r.packets);
        case Column::bytes:
            return number(text, r.bytes);
        case Column::tcp_flags:
            return number(text, r.tcp_flags);
        case Column::ip_tos:
            return number(text, r.ip_tos);
        case Column::in_if:
            return number(text, r.in_if);
        case Column::out_if:
            return number(text, r.out_if);
        case Column::src_as:
            return number(text, r.src_as);
        case Column::dst_as:
            return number(text, r.dst_as);
        case Column::next_hop:
            return address(text, r.next_hop);
    }
    return false;
}

template <class Visit>
void split(std::string_view line, Visit visit) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::size_t index = 0;
    for (;;) {
        const auto comma = line.find(',');
        visit(index++, line.substr(0, comma));
        if (comma == std::string_view::npos) return;
        line.remove_prefix(comma + 1);
    }
}

}  // namespace

void append_flow_csv(fmt::memory_buffer& out, const FlowRecord& r) {
    auto it = fmt::appender(out);
    fmt::format_to(it, FMT_COMPILE("{},{},"), flow_type_name(r.type), r.time_received_ns);
    append_address(out, r.sampler_address);
    fmt::format_to(it, FMT_COMPILE(",{},{},{},{},"), r.sequence_num, r.sampling_rate, r.time_flow_start_ns,
                   r.time_flow_end_ns);
    append_address(out, r.src_addr);
    out.push_back(',');
    append_address(out, r.dst_addr);
    fmt::format_to(it, FMT_COMPILE(",{},{},{},{},{},{},{},{},{},{},{},{},{},"), r.proto, r.src_port, r.dst_port,
                   r.icmp_type, r.icmp_code, r.packets, r.bytes, r.tcp_flags, r.ip_tos, r.in_if, r.out_if, r.src_as,
                   r.dst_as);
    append_address(out, r.next_hop);
    out.push_back('\n');
}

bool FlowCsvReader::read_header(std::string_view line) {
    std::vector<Column> columns;
    bool src = false, dst = false;
    split(line, [&](std::size_t, std::string_view name) {
        Column column = Column::ignored;
        for (std::size_t i = 0; i < kNames.size(); ++i)
            if (kNames[i] == name) column = static_cast<Column>(i + 1);
        src = src || column == Column::src_addr;
        dst = dst || column == Column::dst_addr;
        columns.push_back(column);
    });
    if (!src || !dst) return false;
    columns_ = std::move(columns);
    return true;
}

bool FlowCsvReader::read(std::string_view line, FlowRecord& r, std::string& error) const {
    std::size_t fields = 0;
    bool ok = true;
    split(line, [&](std::size_t index, std::string_view text) {
        ++fields;
        if (!ok || index >= columns_.size() || columns_[index] == Column::ignored) return;
        if (!read_field(columns_[index], text, r)) {
            ok = false;
            error = std::string(kNames[static_cast<std::size_t>(columns_[index]) - 1]) + ": '" + std::string(text) +
                    "' does not parse";
        }
    });
    if (ok && fields != columns_.size()) {
        error = "expected " + std::to_string(columns_.size()) + " columns, got " + std::to_string(fields);
        return false;
    }
    return ok;
}

}  // namespace flowguard::exporters
