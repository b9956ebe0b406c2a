#pragma once
// Passive DNS events as JSON lines (`flowguard meter --dns-log`): one object per query or response.
#include <flowguard/core/dns_event.hpp>

#include <fmt/format.h>

#include <cstdio>
#include <span>

namespace flowguard::exporters {

void append_dns_json(fmt::memory_buffer& out, const DnsEvent& event);
std::string_view dns_type_name(std::uint16_t qtype) noexcept;  // "A", "AAAA", ...; "" if unnamed

class DnsLineWriter {
public:
    explicit DnsLineWriter(std::FILE* out) : out_(out) {}
    void write(std::span<const DnsEvent> events);
    bool flush();
    std::uint64_t lines_written() const noexcept { return lines_; }

private:
    std::FILE* out_;
    fmt::memory_buffer buffer_;
    std::uint64_t lines_ = 0;
};

}  // namespace flowguard::exporters
