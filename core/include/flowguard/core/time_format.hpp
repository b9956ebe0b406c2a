#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace flowguard {

// "2024-03-01T12:00:15.253Z": UTC, millisecond precision unless the value has finer digits.
std::string format_iso8601_ns(std::uint64_t ns_since_epoch);
// "2024-03-01T12:00:15.000Z": UTC, always milliseconds (one precision for every timestamp of an alert).
std::string format_iso8601_ms(std::uint64_t ns_since_epoch);
// The inverse of the formats above (any fraction of a second, "Z" only); nullopt when it is not one.
std::optional<std::uint64_t> parse_iso8601_ns(std::string_view text);
// "2020-06-13T09:00:00Z": UTC, whole seconds.
std::string format_iso8601_seconds(std::int64_t seconds_since_epoch);

}  // namespace flowguard
