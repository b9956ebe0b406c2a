#pragma once
// Registered domain ("eTLD+1") from the Public Suffix List, so a client asking fresh random subdomains of one
// domain is one (client, domain) pair: x1.avsvmcloud.com and x2.avsvmcloud.com -> avsvmcloud.com,
// a.b.example.co.uk -> example.co.uk. Rules: normal, wildcard (*.ck) and exception (!www.ck), as the PSL defines.
#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>

namespace flowguard::analyzer {

class PublicSuffixList {
public:
    static constexpr const char* kDebianPath =
        "/usr/share/publicsuffix/public_suffix_list.dat";  // package publicsuffix

    // Loads the list; throws std::runtime_error when the file cannot be read.
    static PublicSuffixList load(const std::string& path = kDebianPath);
    // A list with only the rule "*": the registered domain is the last two labels.
    static PublicSuffixList fallback();
    void add_rule(std::string_view rule);

    // Lower-cased registered domain of `name`; the name itself when it is a public suffix or has one label.
    std::string registered_domain(std::string_view name) const;
    std::size_t rules() const noexcept { return rules_.size() + wildcards_.size() + exceptions_.size(); }

private:
    // Looked up with string_views of the name's suffixes (once per DNS event label): no string is built.
    struct SuffixHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    using SuffixSet = std::unordered_set<std::string, SuffixHash, std::equal_to<>>;
    SuffixSet rules_;
    SuffixSet wildcards_;   // "ck" for "*.ck"
    SuffixSet exceptions_;  // "www.ck" for "!www.ck"
};

std::string lower_name(std::string_view name);  // lower-case, without a trailing dot

}  // namespace flowguard::analyzer
