#pragma once
// Text output without a temporary string per field: an address formatted straight into the line's buffer.
#include <flowguard/core/ip_address.hpp>

#include <fmt/format.h>

namespace flowguard::exporters {

inline void append_address(fmt::memory_buffer& out, const IpAddress& address) {
    char text[64];
    const auto length = address.format_to(text);
    out.append(text, text + length);
}

inline void append_quoted_address(fmt::memory_buffer& out, const IpAddress& address) {
    out.push_back('"');
    append_address(out, address);
    out.push_back('"');
}

}  // namespace flowguard::exporters
