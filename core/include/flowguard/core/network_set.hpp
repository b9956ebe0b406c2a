#pragma once
// A small set of IP prefixes (the networks a site calls internal). An IPv4 lookup is one bit of a /16 index
// (routing asks it twice per record); only a /16 that a longer prefix splits scans the list. IPv6 scans
// the list: sites have a handful of internal prefixes, and a scan of a few entries beats a trie at that size.
#include <flowguard/core/ip_address.hpp>

#include <cstdint>
#include <string_view>
#include <vector>

namespace flowguard {

class NetworkSet {
public:
    // "10.0.0.0/8", "fd00::/8", or an address alone (a /32 or /128). Throws ConfigError (empty key) if bad.
    void add(std::string_view prefix);
    bool contains(const IpAddress& a) const noexcept {
        if (!a.is_v4()) return contains_v6(a);
        const std::uint32_t v = a.v4();
        const std::uint32_t slash16 = v >> 16;
        const std::uint64_t bit = std::uint64_t{1} << (slash16 & 63);
        if (v4_whole_[slash16 >> 6] & bit) return true;
        if (!(v4_split_[slash16 >> 6] & bit)) return false;
        return contains_split_v4(v);
    }
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
    static constexpr std::size_t kSlash16Words = 65536 / 64;
    bool contains_v6(const IpAddress& a) const noexcept;
    bool contains_split_v4(std::uint32_t v) const noexcept;

    std::vector<Prefix> prefixes_;
    std::vector<V4Prefix> v4_;  // the IPv4 prefixes again as masks, for /16s a longer prefix splits
    // One bit per IPv4 /16: wholly inside some prefix of length <= 16; holding the start of a longer prefix.
    std::vector<std::uint64_t> v4_whole_ = std::vector<std::uint64_t>(kSlash16Words, 0);
    std::vector<std::uint64_t> v4_split_ = std::vector<std::uint64_t>(kSlash16Words, 0);
};

}  // namespace flowguard
