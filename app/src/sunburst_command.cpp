// flowguard sunburst [NAME...]: decode SUNBURST DNS names (arguments, or one per line on stdin) into one JSON
// object per name, reassembling victim domains across all the names given.
#include "commands.hpp"

#include <flowguard/analyzer/sunburst.hpp>
#include <flowguard/core/utf8.hpp>

#include <boost/json.hpp>

#include <iostream>
#include <string>

namespace flowguard::app {
namespace {

std::string trim(const std::string& line) {
    const auto first = line.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return {};
    const auto last = line.find_last_not_of(" \t\r\n");
    return line.substr(first, last - first + 1);
}

}  // namespace

int run_sunburst(std::vector<std::string> names) {
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
        boost::json::value described = analyzer::describe_sunburst_name(names[i], messages[i], assembler);
        make_valid_utf8(described);  // names from passive DNS may hold any byte
        std::cout << boost::json::serialize(described) << '\n';
    }
    std::cout.flush();
    return std::cout ? 0 : 1;
}

}  // namespace flowguard::app
