#pragma once
// Flow records as text lines. JSON follows goflow2's v2 JSON format (field names, order and value
// formats), so goflow2 consumers read flowguard output unchanged; flowguard-only fields come after
// goflow2's. CSV is a fixed, documented subset for spreadsheets and shell tools.
#include <flowguard/core/flow_record.hpp>

#include <fmt/format.h>

#include <cstdio>
#include <span>
#include <string_view>

namespace flowguard::exporters {

enum class FlowFormat { json, csv, none };

void append_flow_json(fmt::memory_buffer& out, const FlowRecord& r);
void append_flow_csv(fmt::memory_buffer& out, const FlowRecord& r);
std::string_view flow_csv_header();  // without the trailing newline

std::string_view protocol_name(std::uint8_t proto) noexcept;  // "TCP", "UDP", ...; "" if unnamed

// Writes records as lines to a stdio stream, buffering whole batches (one write per batch).
class FlowLineWriter {
public:
    FlowLineWriter(std::FILE* out, FlowFormat format);
    void write(std::span<const FlowRecord> records);
    bool flush();  // false if the stream reported an error (e.g. a closed pipe or a full disk)
    std::uint64_t lines_written() const noexcept { return lines_; }

private:
    std::FILE* out_;
    FlowFormat format_;
    fmt::memory_buffer buffer_;
    std::uint64_t lines_ = 0;
    bool header_written_ = false;
};

}  // namespace flowguard::exporters
