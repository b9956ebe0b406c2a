#pragma once
// An IPv4 or IPv6 address in one fixed 16-byte value, so flow records stay trivially copyable.
// IPv4 is kept as an IPv4-mapped IPv6 address (::ffff:a.b.c.d) with family() == v4.
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace flowguard {

class IpAddress {
public:
    enum class Family : std::uint8_t { none = 0, v4 = 4, v6 = 6 };

    constexpr IpAddress() = default;

    // Inline: decoders build several addresses per record.
    static IpAddress from_v4(std::uint32_t host_order) noexcept {
        const std::uint8_t b[4] = {static_cast<std::uint8_t>(host_order >> 24),
                                   static_cast<std::uint8_t>(host_order >> 16),
                                   static_cast<std::uint8_t>(host_order >> 8), static_cast<std::uint8_t>(host_order)};
        return from_v4_bytes(b);
    }
    static IpAddress from_v4_bytes(const std::uint8_t* network_order) noexcept {
        IpAddress a;
        a.family_ = Family::v4;
        a.bytes_[10] = 0xff;
        a.bytes_[11] = 0xff;
        std::memcpy(a.bytes_.data() + 12, network_order, 4);
        return a;
    }
    static IpAddress from_v6_bytes(const std::uint8_t* network_order) noexcept {
        IpAddress a;
        a.family_ = Family::v6;
        std::memcpy(a.bytes_.data(), network_order, 16);
        return a;
    }
    static std::optional<IpAddress> parse(std::string_view text);

    // In-place assignment with whole-word stores. Decoders use these: building a temporary byte by byte
    // and block-copying it into a record stalls store-to-load forwarding, several times per record.
    void assign_v4(const std::uint8_t* network_order) noexcept {
        std::uint32_t raw;
        std::memcpy(&raw, network_order, 4);
        const std::uint64_t zero = 0;
        const std::uint64_t mapped = (std::uint64_t{raw} << 32) | 0xffff0000ull;  // bytes 00 00 ff ff a b c d
        std::memcpy(bytes_.data(), &zero, 8);
        std::memcpy(bytes_.data() + 8, &mapped, 8);
        family_ = Family::v4;
    }
    void assign_v6(const std::uint8_t* network_order) noexcept {
        std::memcpy(bytes_.data(), network_order, 16);
        family_ = Family::v6;
    }

    Family family() const noexcept { return family_; }
    bool is_v4() const noexcept { return family_ == Family::v4; }
    bool is_v6() const noexcept { return family_ == Family::v6; }
    bool empty() const noexcept { return family_ == Family::none; }
    std::uint32_t v4() const noexcept {  // host order; 0 unless is_v4()
        if (!is_v4()) return 0;
        return (std::uint32_t{bytes_[12]} << 24) | (std::uint32_t{bytes_[13]} << 16) |
               (std::uint32_t{bytes_[14]} << 8) | bytes_[15];
    }
    const std::array<std::uint8_t, 16>& bytes() const noexcept { return bytes_; }

    std::string to_string() const;  // "" for an empty address
    // Writes the text form to out (at least 46 bytes) and returns its length; no allocation.
    std::size_t format_to(char* out) const noexcept;

    // Two 8-byte words, not std::array's ==: GCC 12 calls memcmp for that, and addresses are compared per
    // record in hash tables (perf: memcmp was 10 % of collect --archive).
    friend bool operator==(const IpAddress& a, const IpAddress& b) noexcept {
        std::uint64_t a_hi, a_lo, b_hi, b_lo;
        std::memcpy(&a_hi, a.bytes_.data(), 8);
        std::memcpy(&a_lo, a.bytes_.data() + 8, 8);
        std::memcpy(&b_hi, b.bytes_.data(), 8);
        std::memcpy(&b_lo, b.bytes_.data() + 8, 8);
        return ((a_hi ^ b_hi) | (a_lo ^ b_lo)) == 0 && a.family_ == b.family_;
    }
    friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

private:
    std::array<std::uint8_t, 16> bytes_{};
    Family family_ = Family::none;
};

namespace detail {
// splitmix64's finaliser: every input bit reaches every output bit, so any slice of the hash (low bits
// for a table, high bits for a shard) is well spread even for addresses that differ in one byte.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}
}  // namespace detail

// Inline: the receive threads hash every record's host to pick its shard.
inline std::size_t hash_value(const IpAddress& a) noexcept {
    std::uint64_t hi;
    std::uint64_t lo;
    std::memcpy(&hi, a.bytes().data(), 8);
    std::memcpy(&lo, a.bytes().data() + 8, 8);
    return static_cast<std::size_t>(detail::mix64(hi ^ detail::mix64(lo ^ static_cast<std::uint64_t>(a.family()))));
}

}  // namespace flowguard
