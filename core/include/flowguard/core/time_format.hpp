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
// A point in time as a user types it on a command line (all UTC): "2026-12-07T10:00:00Z", "2026-12-07 10:00",
// "2026-12-07", nfdump's "2026/12/07.10:00:00", seconds since the epoch ("1733565600"), "now", or an age
// before `now_ns` ("-30d", "-2h", "-15m", "-90s", "-1w"). nullopt when it is none of these.
std::optional<std::uint64_t> parse_time_argument(std::string_view text, std::uint64_t now_ns);
// "2026-12-07T10:00:00Z" ... as above.
std::string format_iso8601_seconds(std::int64_t seconds_since_epoch);

}  // namespace flowguard
