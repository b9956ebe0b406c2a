#pragma once
// Which addresses passive DNS saw for a name: the answers of DNS responses, by every name of their chain (the
// question and each CNAME target), so that `name example.com` in a query filter finds the flows to the
// addresses that example.com, www.example.com or a CDN alias of theirs resolved to.
#include <flowguard/core/dns_event.hpp>

#include <boost/unordered/unordered_flat_map.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace flowguard::exporters {

class DnsNameIndex {
public:
    // Responses with addresses only; names are kept lower-cased.
    void add(const DnsEvent& event);
    // The addresses of `name` and of every name under it ("example.com" covers "www.example.com", not
    // "badexample.com"), each once.
    std::vector<IpAddress> addresses_under(std::string_view name) const;
    std::size_t names() const noexcept { return by_name_.size(); }

private:
    boost::unordered_flat_map<std::string, std::vector<IpAddress>> by_name_;
};

struct DnsLogCounters {
    std::uint64_t lines = 0;
    std::uint64_t responses = 0;  // responses in the time range, with addresses: indexed
    std::uint64_t bad_lines = 0;  // not JSON, or a DNS line with a field of the wrong type (logged once per file)
    std::uint64_t files = 0;      // of the archive's DNS files, read
};

// Adds the responses of a passive DNS log (JSON lines as `meter --dns-log` writes them; flow lines in the same
// file are skipped) whose time is in [from_ns, to_ns). Throws std::runtime_error when the file cannot be read.
DnsLogCounters load_dns_log(const std::string& path, std::uint64_t from_ns, std::uint64_t to_ns, DnsNameIndex& index);
// The same from the archive's DNS files (event_archive.hpp) in `directory`. Throws std::filesystem_error when the
// directory cannot be listed.
DnsLogCounters load_dns_archive(const std::string& directory, std::uint64_t from_ns, std::uint64_t to_ns,
                                DnsNameIndex& index);

}  // namespace flowguard::exporters
