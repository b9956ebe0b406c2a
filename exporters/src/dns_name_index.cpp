#include <flowguard/exporters/dns_format.hpp>
#include <flowguard/exporters/dns_name_index.hpp>
#include <flowguard/exporters/event_archive.hpp>

#include <boost/json/parse.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <span>
#include <stdexcept>

namespace flowguard::exporters {
namespace {

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    while (!out.empty() && out.back() == '.') out.pop_back();  // "example.com." is example.com
    return out;
}

bool under(std::string_view name, std::string_view domain) {
    return name == domain ||
           (name.size() > domain.size() && name.ends_with(domain) && name[name.size() - domain.size() - 1] == '.');
}

}  // namespace

void DnsNameIndex::add(const DnsEvent& event) {
    if (!event.response || event.address_count == 0) return;
    const auto answers = std::span(event.addresses).first(std::min<std::size_t>(event.address_count, kDnsMaxAddresses));
    auto index = [&](std::string_view name) {
        auto& addresses = by_name_[lower(name)];
        for (const auto& a : answers)
            if (std::find(addresses.begin(), addresses.end(), a) == addresses.end()) addresses.push_back(a);
    };
    index(event.qname.view());
    for (std::size_t i = 0; i < std::min<std::size_t>(event.cname_count, kDnsMaxCnames); ++i)
        index(event.cnames[i].view());
}

std::vector<IpAddress> DnsNameIndex::addresses_under(std::string_view name) const {
    const std::string domain = lower(name);
    std::vector<IpAddress> out;
    for (const auto& [known, addresses] : by_name_) {
        if (!under(known, domain)) continue;
        out.insert(out.end(), addresses.begin(), addresses.end());
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

namespace {

// One line of a DNS log or of the archive's DNS files into the index, counted; `where` names it in a warning.
void index_dns_line(std::string_view line, std::uint64_t from_ns, std::uint64_t to_ns, DnsNameIndex& index,
                    DnsLogCounters& counters, const std::string& where) {
    ++counters.lines;
    boost::system::error_code ec;
    const auto value = boost::json::parse(line, ec);
    if (ec || !value.is_object()) {
        if (counters.bad_lines++ == 0)
            spdlog::warn("{}:{}: not a JSON line (further ones counted)", where, counters.lines);
        return;
    }
    if (!is_dns_json(value.as_object())) return;
    DnsEvent event;
    std::string error;
    if (!read_dns_json(value.as_object(), event, error)) {
        if (counters.bad_lines++ == 0) spdlog::warn("{}:{}: {} (further ones counted)", where, counters.lines, error);
        return;
    }
    if (event.time_ns < from_ns || event.time_ns >= to_ns || !event.response || event.address_count == 0) return;
    ++counters.responses;
    index.add(event);
}

}  // namespace

DnsLogCounters load_dns_log(const std::string& path, std::uint64_t from_ns, std::uint64_t to_ns, DnsNameIndex& index) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read DNS log " + path);
    DnsLogCounters counters;
    std::string line;
    while (std::getline(in, line)) index_dns_line(line, from_ns, to_ns, index, counters, path);
    return counters;
}

DnsLogCounters load_dns_archive(const std::string& directory, std::uint64_t from_ns, std::uint64_t to_ns,
                                DnsNameIndex& index) {
    DnsLogCounters counters;
    const auto scanned = scan_event_archive(directory, EventKind::dns, from_ns, to_ns, [&](std::string_view line) {
        index_dns_line(line, from_ns, to_ns, index, counters, directory);
    });
    counters.files = scanned.files;
    return counters;
}

}  // namespace flowguard::exporters
