#include <flowguard/core/utf8.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include <cstdint>

namespace flowguard {
namespace {

// The length of the well-formed sequence starting at `i`, or 0 when the byte there starts none
// (the table of RFC 3629 section 4).
std::size_t sequence_length(std::string_view s, std::size_t i) noexcept {
    const auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(s[k]); };
    const auto b0 = byte(i);
    if (b0 < 0x80) return 1;
    const auto in = [](std::uint8_t b, std::uint8_t lo, std::uint8_t hi) { return b >= lo && b <= hi; };
    const auto left = s.size() - i;
    if (in(b0, 0xC2, 0xDF)) return left >= 2 && in(byte(i + 1), 0x80, 0xBF) ? 2 : 0;
    if (in(b0, 0xE0, 0xEF)) {
        if (left < 3) return 0;
        const std::uint8_t lo = b0 == 0xE0 ? 0xA0 : 0x80;  // overlong below U+0800
        const std::uint8_t hi = b0 == 0xED ? 0x9F : 0xBF;  // surrogates U+D800..DFFF
        return in(byte(i + 1), lo, hi) && in(byte(i + 2), 0x80, 0xBF) ? 3 : 0;
    }
    if (in(b0, 0xF0, 0xF4)) {
        if (left < 4) return 0;
        const std::uint8_t lo = b0 == 0xF0 ? 0x90 : 0x80;  // overlong below U+10000
        const std::uint8_t hi = b0 == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
        return in(byte(i + 1), lo, hi) && in(byte(i + 2), 0x80, 0xBF) && in(byte(i + 3), 0x80, 0xBF) ? 4 : 0;
    }
    return 0;
}

void fix_string(boost::json::string& s) {
    const std::string_view view(s.data(), s.size());
    if (!is_valid_utf8(view)) s = to_valid_utf8(view);
}

}  // namespace

bool is_valid_utf8(std::string_view text) noexcept {
    for (std::size_t i = 0; i < text.size();) {
        const auto n = sequence_length(text, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::string to_valid_utf8(std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size() + 8);
    for (std::size_t i = 0; i < text.size();) {
        if (const auto n = sequence_length(text, i)) {
            out.append(text.substr(i, n));
            i += n;
            continue;
        }
        const auto b = static_cast<std::uint8_t>(text[i++]);
        out += "\\x";
        out += hex[b >> 4];
        out += hex[b & 15];
    }
    return out;
}

void make_valid_utf8(boost::json::value& value) {
    switch (value.kind()) {
        case boost::json::kind::string:
            fix_string(value.get_string());
            break;
        case boost::json::kind::array:
            for (auto& item : value.get_array()) make_valid_utf8(item);
            break;
        case boost::json::kind::object: {
            auto& object = value.get_object();
            bool keys_valid = true;
            for (auto& [key, item] : object) {
                keys_valid = keys_valid && is_valid_utf8(key);
                make_valid_utf8(item);
            }
            if (keys_valid) break;
            boost::json::object fixed;
            for (auto& [key, item] : object) fixed[to_valid_utf8(key)] = std::move(item);
            object = std::move(fixed);
            break;
        }
        default:
            break;
    }
}

}  // namespace flowguard
