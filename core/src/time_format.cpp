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

std::string format_iso8601_ms(std::uint64_t ns) {
    const auto secs = static_cast<std::time_t>(ns / 1'000'000'000ull);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                       tm.tm_hour, tm.tm_min, tm.tm_sec, ns % 1'000'000'000ull / 1'000'000);
}

std::optional<std::uint64_t> parse_iso8601_ns(std::string_view text) {
    // YYYY-MM-DDTHH:MM:SS[.fraction]Z
    if (text.size() < 20 || text.back() != 'Z') return std::nullopt;
    std::tm tm{};
    int fields[6] = {};
    const std::size_t starts[6] = {0, 5, 8, 11, 14, 17};
    const std::size_t widths[6] = {4, 2, 2, 2, 2, 2};
    const char separators[6] = {'-', '-', 'T', ':', ':', 0};
    for (int f = 0; f < 6; ++f) {
        for (std::size_t i = 0; i < widths[f]; ++i) {
            const char c = text[starts[f] + i];
            if (c < '0' || c > '9') return std::nullopt;
            fields[f] = fields[f] * 10 + (c - '0');
        }
        if (separators[f] != 0 && text[starts[f] + widths[f]] != separators[f]) return std::nullopt;
    }
    std::uint64_t fraction_ns = 0;
    std::size_t at = 19;
    if (text[at] == '.') {
        std::uint64_t scale = 100'000'000;
        for (++at; at < text.size() - 1; ++at) {
            const char c = text[at];
            if (c < '0' || c > '9') return std::nullopt;
            fraction_ns += static_cast<std::uint64_t>(c - '0') * scale;
            scale /= 10;
        }
    }
    if (at != text.size() - 1) return std::nullopt;
    tm.tm_year = fields[0] - 1900;
    tm.tm_mon = fields[1] - 1;
    tm.tm_mday = fields[2];
    tm.tm_hour = fields[3];
    tm.tm_min = fields[4];
    tm.tm_sec = fields[5];
    const std::time_t seconds = timegm(&tm);
    if (seconds < 0) return std::nullopt;
    return static_cast<std::uint64_t>(seconds) * 1'000'000'000ull + fraction_ns;
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

namespace {

std::optional<std::uint64_t> parse_age_ns(std::string_view text) {
    std::uint64_t value = 0;
    std::size_t i = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
        if (value > 1'000'000'000) return std::nullopt;
        value = value * 10 + static_cast<std::uint64_t>(text[i] - '0');
    }
    if (i == 0 || i + 1 != text.size()) return std::nullopt;
    constexpr std::uint64_t s = 1'000'000'000ull;
    switch (text[i]) {
        case 's':
            return value * s;
        case 'm':
            return value * 60 * s;
        case 'h':
            return value * 3600 * s;
        case 'd':
            return value * 86400 * s;
        case 'w':
            return value * 7 * 86400 * s;
        default:
            return std::nullopt;
    }
}

}  // namespace

std::optional<std::uint64_t> parse_time_argument(std::string_view text, std::uint64_t now_ns) {
    if (text == "now") return now_ns;
    if (!text.empty() && text[0] == '-') {
        const auto age = parse_age_ns(text.substr(1));
        if (!age || *age > now_ns) return std::nullopt;
        return now_ns - *age;
    }
    if (!text.empty() && text.size() <= 12 && text.find_first_not_of("0123456789") == std::string_view::npos)
        return std::stoull(std::string(text)) * 1'000'000'000ull;
    // Dates: "/" as "-", a space or nfdump's "." between date and time as "T", missing parts filled in.
    std::string iso(text);
    for (std::size_t i = 0; i < iso.size() && i < 10; ++i)
        if (iso[i] == '/') iso[i] = '-';
    if (iso.size() > 10 && (iso[10] == ' ' || iso[10] == '.')) iso[10] = 'T';
    if (!iso.empty() && iso.back() == 'Z') iso.pop_back();
    if (iso.size() == 10) iso += "T00:00:00";
    if (iso.size() == 16) iso += ":00";
    iso += 'Z';
    return parse_iso8601_ns(iso);
}

}  // namespace flowguard
