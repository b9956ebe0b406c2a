#include <flowguard/analyzer/ioc.hpp>
#include <flowguard/analyzer/registered_domain.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace flowguard::analyzer {
namespace {

// FireEye/Mandiant sunburst_countermeasures (Indicator_Release_NBIs.csv, BSD-2-Clause) and FireEye's SUNBURST
// reports: the DGA parent domain, the stage-2 C2 domains handed out by CNAME, and their published addresses
// (historical: cloud addresses may have been reassigned since 2020).
constexpr const char* kSunburstDomains[] = {"avsvmcloud.com",   "freescanonline.com",    "deftsecurity.com",
                                            "thedoccloud.com",  "websitetheme.com",      "highdatabase.com",
                                            "incomeupdate.com", "databasegalore.com",    "panhardware.com",
                                            "zupertech.com",    "virtualdataserver.com", "digitalcollege.org"};
constexpr const char* kSunburstAddresses[] = {"13.59.205.66",   "54.193.127.66",  "54.215.192.52", "34.203.203.23",
                                              "139.99.115.204", "5.252.177.25",   "5.252.177.21",  "204.188.205.176",
                                              "51.89.125.18",   "167.114.213.199"};

std::string undefang(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text.substr(i, 3) == "[.]") {
            out += '.';
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

}  // namespace

IocList IocList::sunburst() {
    IocList list;
    for (const char* domain : kSunburstDomains) list.add(domain, "sunburst");
    for (const char* address : kSunburstAddresses) list.add(address, "sunburst");
    return list;
}

std::optional<std::string> IocList::try_add(std::string_view indicator, std::string_view source) {
    const std::string text = undefang(indicator);
    if (const auto address = IpAddress::parse(text)) {
        addresses_[*address] = std::string(source);
        return std::nullopt;
    }
    const std::string name = lower_name(text);
    if (name.empty() || name.find_first_of(" /:@") != std::string::npos)
        return fmt::format("'{}' is neither a domain nor an IP address", text);
    domains_[name] = std::string(source);
    return std::nullopt;
}

void IocList::add(std::string_view indicator, std::string_view source) {
    if (auto error = try_add(indicator, source)) throw std::runtime_error(*error);
}

void IocList::load_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(fmt::format("cannot read indicator list '{}': {}", path, std::strerror(errno)));
    std::size_t number = 0;
    for (std::string line; std::getline(in, line);) {
        ++number;
        if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
        const auto first = line.find_first_not_of(" \t\r");
        if (first == std::string::npos) continue;
        const auto last = line.find_last_not_of(" \t\r");
        try {
            add(std::string_view(line).substr(first, last - first + 1), path);
        } catch (const std::exception& e) {
            throw std::runtime_error(fmt::format("{}:{}: {}", path, number, e.what()));
        }
    }
}

std::optional<IocMatch> IocList::match_name(std::string_view name) const {
    std::string candidate = lower_name(name);
    for (;;) {  // the name itself, then each parent domain
        if (const auto it = domains_.find(candidate); it != domains_.end()) return IocMatch{it->first, it->second};
        const auto dot = candidate.find('.');
        if (dot == std::string::npos) return std::nullopt;
        candidate.erase(0, dot + 1);
    }
}

std::optional<IocMatch> IocList::match_address(const IpAddress& address) const {
    if (addresses_.empty() || address.empty()) return std::nullopt;
    const auto it = addresses_.find(address);
    if (it == addresses_.end()) return std::nullopt;
    return IocMatch{it->first.to_string(), it->second};
}

}  // namespace flowguard::analyzer
