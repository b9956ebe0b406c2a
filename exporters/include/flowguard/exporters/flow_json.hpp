#pragma once
// Flow records as JSON lines, goflow2's v2 format (field names, order and value formats), so goflow2
// consumers read flowguard output unchanged; flowguard-only fields come after goflow2's. The reader beside the
// writer takes back every field the writer puts out (`analyze` reads flowguard's own logs, and goflow2's).
#include <flowguard/core/flow_record.hpp>

#include <boost/json/object.hpp>
#include <fmt/format.h>

#include <string>
#include <string_view>

namespace flowguard::exporters {

void append_flow_json(fmt::memory_buffer& out, const FlowRecord& r);

// Fills `r` from one parsed line: fields that are missing keep their defaults (hand-written or other tools'
// logs carry fewer fields), except the two addresses. False, with the reason in `error`, for a missing address
// or a field of the wrong type or value.
bool read_flow_json(const boost::json::object& line, FlowRecord& r, std::string& error);

}  // namespace flowguard::exporters
