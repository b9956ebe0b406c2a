#pragma once
// Private helpers for reading export packets: field values of 1..8 bytes and NTP timestamps.
#include <flowguard/core/byte_order.hpp>

#include <cstdint>

namespace flowguard::collector {

[[gnu::always_inline]] inline std::uint64_t read_uint(const std::uint8_t* p, std::uint16_t len) noexcept {
    switch (len) {
        case 1:
            return p[0];
        case 2:
            return load_be16(p);
        case 4:
            return load_be32(p);
        case 8:
            return load_be64(p);
        default:
            return load_be_var(p, len);
    }
}

// A 1..8-byte big-endian field read through one 8-byte load ending at `field_end`, without a branch on
// its length; `shift` = 64 - 8 * length. Reads 8 - length bytes before the field.
[[gnu::always_inline]] inline std::uint64_t read_uint_ending_at(const std::uint8_t* field_end,
                                                                std::uint8_t shift) noexcept {
    return load_be64(field_end - 8) << shift >> shift;
}

inline constexpr std::uint64_t kNtpToUnixSeconds = 2'208'988'800ull;

// NTP 64-bit timestamp (RFC 7011 dateTimeMicroseconds/Nanoseconds) to ns since the Unix epoch.
inline std::uint64_t ntp_to_unix_ns(std::uint64_t ntp, bool micro) noexcept {
    const std::uint64_t secs = ntp >> 32;
    std::uint64_t frac = ntp & 0xffffffffull;
    if (micro) frac &= ~0x7ffull;  // the low 11 bits of dateTimeMicroseconds are not significant
    if (secs < kNtpToUnixSeconds) return 0;
    return (secs - kNtpToUnixSeconds) * 1'000'000'000ull + ((frac * 1'000'000'000ull) >> 32);
}

}  // namespace flowguard::collector
