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

namespace {

// Dotted quad by hand: glibc's inet_ntop formats IPv4 with sprintf, and flow outputs format several
// addresses per record (a sixth of the daemon's CPU writing JSON lines went to vfprintf).
std::size_t format_v4(const std::uint8_t* b, char* out) noexcept {
    char* p = out;
    for (int i = 0; i < 4; ++i) {
        const unsigned v = b[i];
        if (v >= 100) *p++ = static_cast<char>('0' + v / 100);
        if (v >= 10) *p++ = static_cast<char>('0' + v / 10 % 10);
        *p++ = static_cast<char>('0' + v % 10);
        if (i < 3) *p++ = '.';
    }
    *p = '\0';
    return static_cast<std::size_t>(p - out);
}

}  // namespace

std::size_t IpAddress::format_to(char* out) const noexcept {
    if (family_ == Family::none) return 0;
    if (is_v4()) return format_v4(bytes_.data() + 12, out);
    if (inet_ntop(AF_INET6, bytes_.data(), out, INET6_ADDRSTRLEN) == nullptr) return 0;
    return std::strlen(out);
}

std::string IpAddress::to_string() const {
    char buf[INET6_ADDRSTRLEN];
    return std::string(buf, format_to(buf));
}

}  // namespace flowguard
