#include <flowguard/core/config.hpp>
#include <flowguard/core/network_set.hpp>

#include <fmt/format.h>

#include <charconv>

namespace flowguard {
namespace {

bool prefix_matches(const IpAddress& a, const IpAddress& net, unsigned length) {
    if (a.family() != net.family()) return false;
    const unsigned first = a.is_v4() ? 12 : 0;
    const auto& x = a.bytes();
    const auto& y = net.bytes();
    unsigned bit = 0;
    for (unsigned i = first; bit < length; ++i, bit += 8) {
        const unsigned take = std::min(8u, length - bit);
        const auto mask = static_cast<std::uint8_t>(0xff << (8 - take));
        if ((x[i] & mask) != (y[i] & mask)) return false;
    }
    return true;
}

}  // namespace

void NetworkSet::add(std::string_view text) {
    const auto slash = text.find('/');
    const auto addr = IpAddress::parse(text.substr(0, slash));
    if (!addr) throw ConfigError("", fmt::format("'{}' is not an address or prefix", text));
    const unsigned max = addr->is_v4() ? 32 : 128;
    unsigned length = max;
    if (slash != std::string_view::npos) {
        const auto digits = text.substr(slash + 1);
        auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
        if (ec != std::errc{} || ptr != digits.data() + digits.size() || length > max)
            throw ConfigError("", fmt::format("'{}': prefix length must be 0-{}", text, max));
    }
    prefixes_.push_back(Prefix{*addr, length});
    if (addr->is_v4()) {
        const std::uint32_t mask = length == 0 ? 0 : ~std::uint32_t{0} << (32 - length);
        const std::uint32_t network = addr->v4() & mask;
        v4_.push_back(V4Prefix{network, mask});
        const std::uint32_t first = network >> 16;
        const std::uint32_t count = length >= 16 ? 1 : std::uint32_t{1} << (16 - length);
        auto& index = length <= 16 ? v4_whole_ : v4_split_;
        for (std::uint32_t s = first; s < first + count; ++s) index[s >> 6] |= std::uint64_t{1} << (s & 63);
    }
}

bool NetworkSet::contains_split_v4(std::uint32_t v) const noexcept {
    for (const auto& p : v4_)
        if ((v & p.mask) == p.network) return true;
    return false;
}

bool NetworkSet::contains_v6(const IpAddress& a) const noexcept {
    for (const auto& p : prefixes_)
        if (prefix_matches(a, p.network, p.length)) return true;
    return false;
}

std::vector<std::string> NetworkSet::to_strings() const {
    std::vector<std::string> out;
    for (const auto& p : prefixes_) out.push_back(fmt::format("{}/{}", p.network.to_string(), p.length));
    return out;
}

NetworkSet NetworkSet::private_networks() {
    NetworkSet s;
    for (auto p :
         {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "fc00::/7", "fe80::/10"})
        s.add(p);
    return s;
}

}  // namespace flowguard
