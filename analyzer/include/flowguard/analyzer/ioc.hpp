#pragma once
// Indicator lists: domains (matched on a name and every parent domain) and addresses. The shipped list is
// SUNBURST's published network indicators (docs/DETECTION.md gives the sources); user lists add to it and are
// re-read on SIGHUP. File format: one indicator per line, '#' comments, defanged "[.]" accepted.
#include <flowguard/core/ip_address.hpp>

#include <boost/container_hash/hash.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace flowguard::analyzer {

struct IocMatch {
    std::string indicator;  // the listed domain or address
    std::string source;     // the list it came from
};

class IocList {
public:
    static IocList sunburst();  // embedded: FireEye/Mandiant SUNBURST domains and C2 addresses
    // Throws std::runtime_error saying why a line is neither a domain nor an address; try_add returns it.
    void add(std::string_view indicator, std::string_view source);
    std::optional<std::string> try_add(std::string_view indicator, std::string_view source);
    // Adds every indicator in a file; throws std::runtime_error naming the file and line on bad input.
    void load_file(const std::string& path);

    std::optional<IocMatch> match_name(std::string_view name) const;
    std::optional<IocMatch> match_address(const IpAddress& address) const;
    std::size_t size() const noexcept { return domains_.size() + addresses_.size(); }

private:
    std::unordered_map<std::string, std::string> domains_;  // domain -> source
    // Looked up twice per flow, nearly always missing: open addressing answers a miss in one probe of a group
    // (std::unordered_map's modulo and bucket chase were 7 % of the daemon's CPU).
    boost::unordered_flat_map<IpAddress, std::string, boost::hash<IpAddress>> addresses_;
};

}  // namespace flowguard::analyzer
