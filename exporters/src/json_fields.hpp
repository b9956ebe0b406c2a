#pragma once
// Reading fields of one parsed JSON line, leniently: a missing field keeps the record's default, a wrong type
// is an error naming the field. Numbers may come as unsigned, signed or floating point (other tools'
// logs); negative values read as 0.
#include <flowguard/core/ip_address.hpp>

#include <boost/json/object.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace flowguard::exporters::json_fields {

// False (with `error` naming the field) when the field is there but not a number that fits T.
template <class T>
bool read_number(const boost::json::object& o, std::string_view key, T& out, std::string& error) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) return true;
    std::uint64_t n = 0;
    if (v->is_uint64())
        n = v->as_uint64();
    else if (v->is_int64())
        n = v->as_int64() < 0 ? 0 : static_cast<std::uint64_t>(v->as_int64());
    else if (v->is_double()) {
        const double d = v->as_double();
        if (!(d < 18446744073709551616.0)) {  // 2^64 and above (found by fuzzing: the cast was undefined)
            error = std::string(key) + ": out of range";
            return false;
        }
        n = d < 0 ? 0 : static_cast<std::uint64_t>(d);
    } else {
        error = std::string(key) + ": not a number";
        return false;
    }
    if (n > std::numeric_limits<T>::max()) {
        error = std::string(key) + ": out of range";
        return false;
    }
    out = static_cast<T>(n);
    return true;
}

// The string value of a field, or "" when it is missing; false when it is there but not a string.
inline bool read_text(const boost::json::object& o, std::string_view key, std::string_view& out, std::string& error) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) return true;
    if (!v->is_string()) {
        error = std::string(key) + ": not a string";
        return false;
    }
    out = std::string_view(v->as_string());
    return true;
}

// An address field; a missing or empty one leaves `out` as it was.
inline bool read_address(const boost::json::object& o, std::string_view key, IpAddress& out, std::string& error) {
    std::string_view text;
    if (!read_text(o, key, text, error)) return false;
    if (text.empty()) return true;
    const auto address = IpAddress::parse(text);
    if (!address) {
        error = std::string(key) + ": '" + std::string(text) + "' is not an IP address";
        return false;
    }
    out = *address;
    return true;
}

}  // namespace flowguard::exporters::json_fields
