#pragma once
// Text from the wire (DNS names, SUNBURST fragments) may hold any byte, but JSON is UTF-8: one invalid byte
// and a strict reader (jq, Python, Elasticsearch) refuses the whole line, or the whole file. Invalid bytes
// are written as the four characters \xHH, as Zeek's JSON logs do: readable, and the line stays valid.
#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace flowguard {

// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view text) noexcept;

// `text` with every byte that is not part of a well-formed sequence replaced by "\xHH".
std::string to_valid_utf8(std::string_view text);

// Every string and object key in `value`, recursively, made valid as above.
void make_valid_utf8(boost::json::value& value);

}  // namespace flowguard
