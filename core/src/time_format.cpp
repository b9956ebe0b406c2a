#include <flowguard/core/time_format.hpp>

#include <fmt/format.h>

#include <ctime>

namespace flowguard {

std::string format_iso8601_seconds(std::int64_t seconds) {
    const auto secs = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                       tm.tm_min, tm.tm_sec);
}

std::string format_iso8601_ns(std::uint64_t ns) {
    const auto secs = static_cast<std::time_t>(ns / 1'000'000'000ull);
    const auto frac = ns % 1'000'000'000ull;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                                  tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (frac % 1'000'000 == 0) {
        out += fmt::format(".{:03}Z", frac / 1'000'000);
    } else {
        out += fmt::format(".{:09}Z", frac);
    }
    return out;
}

}  // namespace flowguard
