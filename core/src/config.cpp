#include <flowguard/core/config.hpp>
#include <flowguard/core/ip_address.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

namespace flowguard {
namespace {

std::uint64_t parse_number_prefix(std::string_view text, std::string_view& unit) {
    std::uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || ptr == text.data())
        throw ConfigError("", fmt::format("'{}' does not start with a number", text));
    unit = text.substr(static_cast<std::size_t>(ptr - text.data()));
    while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
    return v;
}

}  // namespace

namespace yaml {

std::string child_key(const std::string& parent, std::string_view name) {
    return parent.empty() ? std::string(name) : fmt::format("{}.{}", parent, name);
}

// Rejects keys we do not know, so a typo is an error instead of a silently ignored setting.
void require_known_keys(const YAML::Node& map, const std::string& where,
                        std::initializer_list<std::string_view> known) {
    if (!map.IsMap()) throw ConfigError(where.empty() ? "(top level)" : where, "expected a mapping");
    for (const auto& kv : map) {
        // A key that is itself a list or a mapping ("? [a, b]: 1", "{[x]: 1}") names nothing we know.
        if (!kv.first.IsScalar()) throw ConfigError(where.empty() ? "(top level)" : where, "a key must be a name");
        const auto name = kv.first.Scalar();
        if (std::find(known.begin(), known.end(), name) == known.end()) {
            std::string list;
            for (auto k : known) list += fmt::format("{}{}", list.empty() ? "" : ", ", k);
            throw ConfigError(child_key(where, name), fmt::format("unknown key (known here: {})", list));
        }
    }
}

void require_unique_keys(const YAML::Node& node, const std::string& where) {
    if (node.IsSequence()) {
        for (std::size_t i = 0; i < node.size(); ++i) require_unique_keys(node[i], fmt::format("{}[{}]", where, i));
        return;
    }
    if (!node.IsMap()) return;
    std::vector<std::string> seen;
    for (const auto& kv : node) {
        const auto name = kv.first.IsScalar() ? kv.first.Scalar() : std::string("(complex key)");
        if (std::find(seen.begin(), seen.end(), name) != seen.end())
            throw ConfigError(child_key(where, name), "given twice (the first would silently win)");
        seen.push_back(name);
        require_unique_keys(kv.second, child_key(where, name));
    }
}

std::string scalar(const YAML::Node& node, const std::string& key) {
    if (!node.IsScalar()) throw ConfigError(key, "expected a single value");
    // A control character (a stray \r from a Windows editor, a NUL) is never meant, and check-config could
    // not print it back as it was read (a config fuzzer finding).
    const auto& text = node.Scalar();
    for (const unsigned char c : text)
        if (c < 0x20 || c == 0x7f)
            throw ConfigError(key, fmt::format("holds the control character 0x{:02x}", static_cast<unsigned>(c)));
    return text;
}

std::uint64_t unsigned_value(const YAML::Node& node, const std::string& key, std::uint64_t max) {
    const auto text = scalar(node, key);
    std::uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || ptr != text.data() + text.size())
        throw ConfigError(key, fmt::format("'{}' is not a non-negative whole number", text));
    if (v > max) throw ConfigError(key, fmt::format("{} is larger than the maximum {}", v, max));
    return v;
}

bool boolean_value(const YAML::Node& node, const std::string& key) {
    const auto text = scalar(node, key);
    if (text == "true" || text == "yes" || text == "on") return true;
    if (text == "false" || text == "no" || text == "off") return false;
    throw ConfigError(key, fmt::format("'{}' is not true or false", text));
}

double unit_value(const YAML::Node& node, const std::string& key) {
    const auto text = scalar(node, key);
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || !(v >= 0.0 && v <= 1.0))
        throw ConfigError(key, fmt::format("'{}' is not a number between 0 and 1", text));
    return v;
}

std::vector<std::string> string_list(const YAML::Node& node, const std::string& key) {
    if (!node.IsSequence()) throw ConfigError(key, "expected a list");
    std::vector<std::string> out;
    for (std::size_t i = 0; i < node.size(); ++i) out.push_back(scalar(node[i], fmt::format("{}[{}]", key, i)));
    return out;
}

std::uint64_t duration_value(const YAML::Node& node, const std::string& key) {
    return with_key(key, [&] { return parse_duration_ns(scalar(node, key)); });
}

std::size_t size_value(const YAML::Node& node, const std::string& key) {
    return with_key(key, [&] { return parse_size_bytes(scalar(node, key)); });
}

std::string milliseconds(std::uint64_t ns) {
    return fmt::format("{}ms", ns / 1'000'000);
}
std::string seconds(std::uint64_t ns) {
    return fmt::format("{}s", ns / 1'000'000'000);
}

}  // namespace yaml

ListenEndpoint ListenEndpoint::parse(std::string_view text) {
    std::string_view rest = text;
    if (rest.starts_with("udp://"))
        rest.remove_prefix(6);
    else if (rest.find("://") != std::string_view::npos)
        throw ConfigError("", fmt::format("'{}': only udp:// listeners are supported", text));
    ListenEndpoint ep;
    std::string_view host;
    std::string_view port;
    if (rest.starts_with('[')) {
        const auto close = rest.find(']');
        if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
            throw ConfigError("", fmt::format("'{}' is not [IPV6]:PORT", text));
        host = rest.substr(1, close - 1);
        port = rest.substr(close + 2);
    } else {
        const auto colon = rest.rfind(':');
        if (colon == std::string_view::npos) throw ConfigError("", fmt::format("'{}' has no :PORT", text));
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
    }
    unsigned p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc{} || ptr != port.data() + port.size() || p == 0 || p > 65535)
        throw ConfigError("", fmt::format("'{}': port must be 1-65535", text));
    ep.port = static_cast<std::uint16_t>(p);
    if (host.empty()) host = "0.0.0.0";
    if (!IpAddress::parse(host))
        throw ConfigError("", fmt::format("'{}': '{}' is not a numeric IP address", text, host));
    ep.address = std::string(host);
    return ep;
}

std::string ListenEndpoint::to_string() const {
    if (address.find(':') != std::string::npos) return fmt::format("udp://[{}]:{}", address, port);
    return fmt::format("udp://{}:{}", address, port);
}

std::uint64_t parse_duration_ns(std::string_view text) {
    std::string_view unit;
    const auto v = parse_number_prefix(text, unit);
    std::uint64_t scale = 0;
    if (unit.empty() || unit == "s")
        scale = 1'000'000'000ull;
    else if (unit == "ms")
        scale = 1'000'000ull;
    else if (unit == "us")
        scale = 1'000ull;
    else if (unit == "m" || unit == "min")
        scale = 60'000'000'000ull;
    else if (unit == "h")
        scale = 3'600'000'000'000ull;
    else if (unit == "d")
        scale = 86'400'000'000'000ull;
    else
        throw ConfigError("", fmt::format("'{}': unit must be us, ms, s, m, h or d", text));
    if (v > UINT64_MAX / scale) throw ConfigError("", fmt::format("'{}' is too long", text));
    return v * scale;
}

std::uint64_t parse_timeout_ns(std::string_view text) {
    const auto ns = parse_duration_ns(text);
    if (ns == 0) throw ConfigError("", "must be longer than 0");
    return ns;
}

std::size_t parse_size_bytes(std::string_view text) {
    std::string_view unit;
    const auto v = parse_number_prefix(text, unit);
    std::uint64_t scale = 0;
    if (unit.empty() || unit == "B")
        scale = 1;
    else if (unit == "KiB" || unit == "K")
        scale = 1ull << 10;
    else if (unit == "MiB" || unit == "M")
        scale = 1ull << 20;
    else if (unit == "GiB" || unit == "G")
        scale = 1ull << 30;
    else
        throw ConfigError("", fmt::format("'{}': unit must be B, KiB, MiB or GiB", text));
    if (v > (1ull << 40) / scale) throw ConfigError("", fmt::format("'{}' is too large", text));
    return static_cast<std::size_t>(v * scale);
}

}  // namespace flowguard
