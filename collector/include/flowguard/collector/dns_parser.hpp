#pragma once
// Passive DNS: parses DNS messages seen by the meter (UDP/TCP port 53, also inside sFlow packet samples).
// Name compression is followed with a hop limit and only backwards, so pointer loops end; every read is
// bounds-checked against the captured message.
#include <flowguard/core/dns_event.hpp>

#include <cstddef>
#include <cstdint>

namespace flowguard::collector {

enum class DnsParseResult : std::uint8_t { ok, truncated, malformed };

// Decodes one DNS message (without the TCP length prefix). `client`/`server` are filled by the caller.
DnsParseResult parse_dns_message(const std::uint8_t* data, std::size_t length, DnsEvent& out) noexcept;

// Reads a possibly compressed name at `offset`, writes its dotted form to out; returns the offset just after
// the name in the message, or 0 when the name is malformed or runs past `length`.
std::size_t read_dns_name(const std::uint8_t* message, std::size_t length, std::size_t offset, DnsName& out) noexcept;

}  // namespace flowguard::collector
