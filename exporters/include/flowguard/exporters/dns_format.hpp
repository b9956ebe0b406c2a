#pragma once
// Passive DNS events as JSON lines (`flowguard meter --dns-log`): one object per query or response, and the
// reader beside the writer (`analyze` reads these logs back).
#include <flowguard/core/dns_event.hpp>

#include <boost/json/object.hpp>
#include <fmt/format.h>

#include <string>
#include <string_view>

namespace flowguard::exporters {

void append_dns_json(fmt::memory_buffer& out, const DnsEvent& event);
std::string_view dns_type_name(std::uint16_t qtype) noexcept;  // "A", "AAAA", ...; "" if unnamed

// A line is a DNS event when it has a qname (flow records never do).
bool is_dns_json(const boost::json::object& line) noexcept;
// Fills `event` from one parsed line; missing fields keep their defaults, names longer than a DNS name are
// cut to kDnsNameMax. False, with the reason in `error`, for a field of the wrong type or value.
bool read_dns_json(const boost::json::object& line, DnsEvent& event, std::string& error);

}  // namespace flowguard::exporters
