#pragma once
// A DNS query or response seen on the wire (passive DNS). Fixed-size and trivially copyable, like FlowRecord,
// so DNS events travel through the same pooled batches and rings as flows.
#include <flowguard/core/ip_address.hpp>

#include <array>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace flowguard {

inline constexpr std::size_t kDnsNameMax = 255;  // presentation form without the trailing dot (RFC 1035: 253)
inline constexpr std::size_t kDnsMaxAddresses = 8;
inline constexpr std::size_t kDnsMaxCnames = 4;

struct DnsName {
    std::array<char, kDnsNameMax> text{};
    std::uint8_t length = 0;
    std::string_view view() const noexcept { return {text.data(), length}; }
    bool assign(std::string_view name) noexcept {
        if (name.size() > text.size()) return false;
        for (std::size_t i = 0; i < name.size(); ++i) text[i] = name[i];
        length = static_cast<std::uint8_t>(name.size());
        return true;
    }
};

struct DnsEvent {
    std::uint64_t time_ns = 0;
    IpAddress client;  // who asked: source of a query, destination of a response
    IpAddress server;  // the resolver or authoritative server that was asked
    std::uint16_t client_port = 0;
    std::uint16_t id = 0;
    std::uint16_t qtype = 0;
    std::uint8_t rcode = 0;
    bool response = false;
    bool truncated_answers = false;  // more answers than kept here
    std::uint8_t address_count = 0;
    std::uint8_t cname_count = 0;
    DnsName qname;
    // Answers: the CNAME chain in order (each target), then the addresses the last name resolves to.
    std::array<DnsName, kDnsMaxCnames> cnames{};
    std::array<IpAddress, kDnsMaxAddresses> addresses{};
    std::array<std::uint32_t, kDnsMaxAddresses> ttls{};
    std::uint32_t min_ttl = 0;  // smallest TTL among the kept answers
};

static_assert(std::is_trivially_copyable_v<DnsEvent>);

}  // namespace flowguard
