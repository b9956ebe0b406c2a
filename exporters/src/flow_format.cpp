#include <flowguard/exporters/flow_format.hpp>

#include <array>
#include <charconv>

namespace flowguard::exporters {
namespace {

template <void (*Append)(fmt::memory_buffer&, const FlowRecord&)>
void lines(fmt::memory_buffer& out, std::span<const FlowRecord> records) {
    for (const auto& r : records) Append(out, r);
}

constexpr std::array kFormats{
    FlowLineFormat{"json", "", &lines<append_flow_json>},
    FlowLineFormat{"csv", kFlowCsvHeader, &lines<append_flow_csv>},
};

}  // namespace

const FlowLineFormat* find_flow_format(std::string_view name) noexcept {
    for (const auto& f : kFormats)
        if (f.name == name) return &f;
    return nullptr;
}

bool known_flow_format(std::string_view name) noexcept {
    return name == "none" || find_flow_format(name) != nullptr;
}

std::string flow_format_names() {
    std::string names;
    for (const auto& f : kFormats) names += std::string(f.name) + ", ";
    return names + "none";
}

std::string_view protocol_name(std::uint8_t proto) noexcept {
    switch (proto) {
        case 1:
            return "ICMP";
        case 2:
            return "IGMP";
        case 4:
            return "IPIP";
        case 6:
            return "TCP";
        case 17:
            return "UDP";
        case 41:
            return "IPv6";
        case 47:
            return "GRE";
        case 50:
            return "ESP";
        case 51:
            return "AH";
        case 58:
            return "ICMPv6";
        case 89:
            return "OSPF";
        case 103:
            return "PIM";
        case 112:
            return "VRRP";
        case 132:
            return "SCTP";
        default:
            return "";
    }
}

std::string protocol_text(std::uint8_t proto) {
    const auto name = protocol_name(proto);
    return name.empty() ? std::to_string(proto) : std::string(name);
}

std::optional<std::uint8_t> protocol_number(std::string_view text) noexcept {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc{} && end == text.data() + text.size() && !text.empty()) {
        if (value > 255) return std::nullopt;
        return static_cast<std::uint8_t>(value);
    }
    for (unsigned p = 0; p < 256; ++p)
        if (!text.empty() && protocol_name(static_cast<std::uint8_t>(p)) == text) return static_cast<std::uint8_t>(p);
    return std::nullopt;
}

}  // namespace flowguard::exporters
