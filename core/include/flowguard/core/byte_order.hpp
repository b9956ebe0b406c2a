#pragma once
// Big-endian loads from unaligned wire buffers. Callers check bounds first: these never do.
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace flowguard {

inline std::uint16_t load_be16(const std::uint8_t* p) noexcept {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

inline std::uint32_t load_be32(const std::uint8_t* p) noexcept {
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return __builtin_bswap32(v);
}

inline std::uint64_t load_be64(const std::uint8_t* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return __builtin_bswap64(v);
}

// Unsigned big-endian integer of 1..8 bytes (IPFIX reduced-size encoding, RFC 7011 section 6.2).
inline std::uint64_t load_be_var(const std::uint8_t* p, std::size_t len) noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < len; ++i) v = (v << 8) | p[i];
    return v;
}

}  // namespace flowguard
