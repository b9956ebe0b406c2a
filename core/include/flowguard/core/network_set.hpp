#pragma once
// A small set of IP prefixes (the networks a site calls internal). Lookups scan the list: sites have a
// handful of internal prefixes, and a scan of a few entries beats a trie at that size.
#include <flowguard/core/ip_address.hpp>

#include <string_view>
#include <vector>

namespace flowguard {

class NetworkSet {
public:
    // "10.0.0.0/8", "fd00::/8", or an address alone (a /32 or /128). Throws ConfigError (empty key) if bad.
    void add(std::string_view prefix);
    bool contains(const IpAddress& a) const noexcept;
    bool empty() const noexcept { return prefixes_.empty(); }
    std::vector<std::string> to_strings() const;

    // RFC 1918, RFC 6598 shared space, link-local and unique-local IPv6.
    static NetworkSet private_networks();

private:
    struct Prefix {
        IpAddress network;
        unsigned length;  // in the address's own family: 0-32 for IPv4, 0-128 for IPv6
    };
    struct V4Prefix {
        std::uint32_t network;
        std::uint32_t mask;
    };
    std::vector<Prefix> prefixes_;
    std::vector<V4Prefix> v4_;  // the IPv4 prefixes again as masks: the per-record path is a few ANDs
};

}  // namespace flowguard
