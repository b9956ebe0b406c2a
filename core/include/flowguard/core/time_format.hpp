#pragma once
#include <cstdint>
#include <string>

namespace flowguard {

// "2024-03-01T12:00:15.253Z": UTC, millisecond precision unless the value has finer digits.
std::string format_iso8601_ns(std::uint64_t ns_since_epoch);
// "2020-06-13T09:00:00Z": UTC, whole seconds.
std::string format_iso8601_seconds(std::int64_t seconds_since_epoch);

}  // namespace flowguard
