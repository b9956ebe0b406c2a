#include <flowguard/core/ip_address.hpp>

#include <arpa/inet.h>

#include <cstring>

namespace flowguard {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    char buf[INET6_ADDRSTRLEN + 1];
    // inet_pton stops at a NUL: "::\0junk" would be read as "::" (a config fuzzer finding).
    if (text.empty() || text.size() >= sizeof buf || std::memchr(text.data(), '\0', text.size()) != nullptr)
        return std::nullopt;
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    std::uint8_t raw[16];
    if (inet_pton(AF_INET, buf, raw) == 1) return from_v4_bytes(raw);
    if (inet_pton(AF_INET6, buf, raw) == 1) return from_v6_bytes(raw);
    return std::nullopt;
}

std::size_t IpAddress::format_to(char* out) const noexcept {
    if (family_ == Family::none) return 0;
    const int af = is_v4() ? AF_INET : AF_INET6;
    const void* src = is_v4() ? bytes_.data() + 12 : bytes_.data();
    if (inet_ntop(af, src, out, INET6_ADDRSTRLEN) == nullptr) return 0;
    return std::strlen(out);
}

std::string IpAddress::to_string() const {
    char buf[INET6_ADDRSTRLEN];
    return std::string(buf, format_to(buf));
}

namespace {

// splitmix64's finaliser: every input bit reaches every output bit, so any slice of the hash (low bits
// for a table, high bits for a shard) is well spread even for addresses that differ in one byte.
std::uint64_t mix64(std::uint64_t x) noexcept {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

}  // namespace

std::size_t hash_value(const IpAddress& a) noexcept {
    std::uint64_t hi;
    std::uint64_t lo;
    std::memcpy(&hi, a.bytes().data(), 8);
    std::memcpy(&lo, a.bytes().data() + 8, 8);
    return static_cast<std::size_t>(mix64(hi ^ mix64(lo ^ static_cast<std::uint64_t>(a.family()))));
}

}  // namespace flowguard
