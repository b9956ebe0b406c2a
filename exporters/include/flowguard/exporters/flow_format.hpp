#pragma once
// The text formats of flow records, chosen by name from the configuration (`output.format`, `--format`):
// json (goflow2 JSON lines, flow_json.hpp) and csv (flow_csv.hpp), each with its reader beside its writer.
#include <flowguard/exporters/flow_csv.hpp>
#include <flowguard/exporters/flow_json.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace flowguard::exporters {

struct FlowLineFormat {
    std::string_view name;    // json, csv
    std::string_view header;  // written once before the first line ("" = none)
    // One line per record; called per batch, so the per-record writer is a direct (inlined) call.
    void (*append)(fmt::memory_buffer& out, std::span<const FlowRecord> records);
};

// nullptr for "none" (no output) and for names it does not know (flow_format_names() lists the known ones).
const FlowLineFormat* find_flow_format(std::string_view name) noexcept;
bool known_flow_format(std::string_view name) noexcept;  // a format's name, or none
std::string flow_format_names();                         // "json, csv, none"

std::string_view protocol_name(std::uint8_t proto) noexcept;  // "TCP", "UDP", ...; "" if unnamed
std::string protocol_text(std::uint8_t proto);                // the name, else the number ("TCP", "132")
// The inverse, also for numbers written as text ("47"); nullopt for neither.
std::optional<std::uint8_t> protocol_number(std::string_view text) noexcept;

}  // namespace flowguard::exporters
