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

}  // namespace flowguard
