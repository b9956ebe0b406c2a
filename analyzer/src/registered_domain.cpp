#include <flowguard/analyzer/registered_domain.hpp>

#include <fmt/format.h>

#include <fstream>
#include <stdexcept>
#include <vector>

namespace flowguard::analyzer {

std::string lower_name(std::string_view name) {
    std::string out(name);
    while (!out.empty() && out.back() == '.') out.pop_back();
    for (auto& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

PublicSuffixList PublicSuffixList::load(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(fmt::format("cannot read the Public Suffix List '{}'", path));
    PublicSuffixList list;
    for (std::string line; std::getline(in, line);) {
        const auto end = line.find_first_of(" \t\r");
        if (end != std::string::npos) line.resize(end);
        if (line.empty() || line.starts_with("//")) continue;
        list.add_rule(line);
    }
    if (list.rules() == 0) throw std::runtime_error(fmt::format("no rules in the Public Suffix List '{}'", path));
    return list;
}

PublicSuffixList PublicSuffixList::fallback() {
    return PublicSuffixList{};
}

void PublicSuffixList::add_rule(std::string_view rule) {
    const std::string lowered = lower_name(rule);
    if (lowered.starts_with("!")) {
        exceptions_.insert(lowered.substr(1));
    } else if (lowered.starts_with("*.")) {
        wildcards_.insert(lowered.substr(2));
    } else {
        rules_.insert(lowered);
    }
}

std::string PublicSuffixList::registered_domain(std::string_view name) const {
    const std::string lowered = lower_name(name);
    // Walk suffixes from the longest; the first that is a public suffix decides (longest match wins).
    std::size_t suffix_labels = 0;
    std::vector<std::size_t> starts;  // start of each label
    for (std::size_t i = 0; i <= lowered.size(); ++i) {
        if (i == 0 || lowered[i - 1] == '.') starts.push_back(i);
    }
    const std::size_t labels = starts.size();
    for (std::size_t k = 0; k < labels; ++k) {
        const std::string_view suffix = std::string_view(lowered).substr(starts[k]);
        if (exceptions_.count(suffix)) {  // the exception itself is registrable
            suffix_labels = labels - k - 1;
            break;
        }
        if (rules_.count(suffix)) {
            suffix_labels = labels - k;
            break;
        }
        if (k + 1 < labels && wildcards_.count(std::string_view(lowered).substr(starts[k + 1]))) {
            suffix_labels = labels - k;
            break;
        }
    }
    if (suffix_labels == 0) suffix_labels = 1;  // unknown TLD: the "*" rule
    if (suffix_labels >= labels) return lowered;
    return lowered.substr(starts[labels - suffix_labels - 1]);
}

}  // namespace flowguard::analyzer
