// flowguard sunburst [NAME...]: decode SUNBURST DNS names (arguments, or one per line on stdin) into one JSON
// object per name, reassembling victim domains across all the names given.
#include "commands.hpp"

#include <flowguard/analyzer/sunburst.hpp>
#include <flowguard/core/time_format.hpp>

#include <boost/json.hpp>

#include <iostream>
#include <string>

namespace flowguard::app {
namespace {

boost::json::value optional_string(const std::optional<std::string>& text) {
    if (!text) return nullptr;
    return boost::json::value(*text);
}

boost::json::object to_json(const std::string& name, const analyzer::SunburstMessage& message,
                            const analyzer::SunburstDomainAssembler& assembler) {
    using analyzer::SunburstKind;
    boost::json::object out;
    out["name"] = name;
    out["kind"] = std::string(analyzer::to_string(message.kind));
    const bool valid = message.kind != SunburstKind::invalid;
    const bool fragment = message.kind == SunburstKind::domain_fragment;
    const bool data = message.kind == SunburstKind::ping || message.kind == SunburstKind::services;
    out["guid"] = valid ? boost::json::value(analyzer::guid_hex(message.guid)) : nullptr;
    out["region"] = valid ? boost::json::value(message.region) : nullptr;
    const auto sequence = assembler.sequence_of(message);
    out["sequence"] = sequence ? boost::json::value(*sequence) : nullptr;
    out["last"] = fragment ? boost::json::value(message.last) : nullptr;
    out["fragment"] = optional_string(assembler.fragment_text(message));
    out["encoded_fragment"] = fragment ? boost::json::value(message.encoded_fragment) : nullptr;
    out["domain"] = valid ? optional_string(assembler.domain(message.guid)) : nullptr;
    out["timestamp"] = data ? boost::json::value(format_iso8601_seconds(message.timestamp)) : nullptr;
    out["stage2"] = data ? boost::json::value(message.stage2) : nullptr;
    if (message.kind == SunburstKind::services) {
        boost::json::array services;
        for (const auto& service : message.services) {
            services.push_back({{"product", std::string(service.product)},
                                {"running", service.running},
                                {"stopped", service.stopped}});
        }
        out["services"] = std::move(services);
    }
    if (!valid) out["reason"] = message.invalid_reason;
    return out;
}

std::string trim(const std::string& line) {
    const auto first = line.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return {};
    const auto last = line.find_last_not_of(" \t\r\n");
    return line.substr(first, last - first + 1);
}

}  // namespace

int run_sunburst(const SunburstOptions& options) {
    std::vector<std::string> names = options.names;
    if (names.empty()) {
        std::string line;
        while (std::getline(std::cin, line)) {
            auto name = trim(line);
            if (!name.empty() && name.front() != '#') names.push_back(std::move(name));
        }
    }
    // Two passes: fragments anywhere in the input complete the domains of every name before it.
    std::vector<analyzer::SunburstMessage> messages;
    messages.reserve(names.size());
    analyzer::SunburstDomainAssembler assembler(names.size() + 1);
    for (const auto& name : names) {
        messages.push_back(analyzer::decode_sunburst_name(name));
        assembler.add(messages.back());
    }
    for (std::size_t i = 0; i < names.size(); ++i) {
        std::cout << boost::json::serialize(to_json(names[i], messages[i], assembler)) << '\n';
    }
    std::cout.flush();
    return std::cout ? 0 : 1;
}

}  // namespace flowguard::app
