#include <flowguard/exporters/archive.hpp>
#include <flowguard/exporters/dns_name_index.hpp>

#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace flowguard;
using exporters::DnsNameIndex;

namespace {

DnsEvent response(std::string_view qname, std::vector<const char*> addresses, std::vector<std::string_view> cnames = {},
                  std::uint64_t time_ns = 1'000) {
    DnsEvent e;
    e.time_ns = time_ns;
    e.response = true;
    e.qname.assign(qname);
    for (const auto* a : addresses) e.addresses[e.address_count++] = *IpAddress::parse(a);
    for (auto c : cnames) e.cnames[e.cname_count++].assign(c);
    return e;
}

std::vector<std::string> texts(const std::vector<IpAddress>& addresses) {
    std::vector<std::string> out;
    for (const auto& a : addresses) out.push_back(a.to_string());
    return out;
}

}  // namespace

TEST_CASE("a name gives the addresses of itself and the names under it, through CNAME chains") {
    DnsNameIndex index;
    index.add(response("www.Example.com", {"93.184.216.34"}));
    index.add(response("cdn.example.com", {"198.51.100.7", "2001:db8::7"}, {"edge.cdnprovider.net"}));
    index.add(response("badexample.com", {"203.0.113.9"}));
    DnsEvent query = response("example.com", {"192.0.2.1"});
    query.response = false;  // a query carries no answer
    index.add(query);
    CHECK(texts(index.addresses_under("example.com")) ==
          std::vector<std::string>{"93.184.216.34", "198.51.100.7", "2001:db8::7"});
    CHECK(texts(index.addresses_under("EXAMPLE.COM.")) == texts(index.addresses_under("example.com")));
    CHECK(texts(index.addresses_under("www.example.com")) == std::vector<std::string>{"93.184.216.34"});
    CHECK(texts(index.addresses_under("cdnprovider.net")) == std::vector<std::string>{"198.51.100.7", "2001:db8::7"});
    CHECK(texts(index.addresses_under("badexample.com")) == std::vector<std::string>{"203.0.113.9"});
    CHECK(index.addresses_under("example.org").empty());
    CHECK(index.addresses_under("com").size() == 4);
}

TEST_CASE("a passive DNS log loads its responses in the time range and counts bad lines") {
    const auto path =
        std::filesystem::temp_directory_path() / ("flowguard-dns-" + std::to_string(::getpid()) + ".jsonl");
    {
        std::ofstream out(path);
        out << R"({"time_ns":1000,"type":"response","client":"10.0.0.1","server":"10.0.0.53","qname":"a.example.com","qtype":1,"answers":["192.0.2.1"],"cnames":[]})"
               "\n";
        out << R"({"time_ns":5000,"type":"response","client":"10.0.0.1","server":"10.0.0.53","qname":"b.example.com","qtype":1,"answers":["192.0.2.2"],"cnames":[]})"
               "\n";
        out << R"({"time_ns":1500,"type":"query","client":"10.0.0.1","server":"10.0.0.53","qname":"c.example.com","qtype":1})"
               "\n";
        out << R"({"type":"IPFIX","src_addr":"10.0.0.1","dst_addr":"192.0.2.1"})"
               "\n";
        out << "not json\n";
        out << R"({"time_ns":"soon","type":"response","qname":"d.example.com","answers":["192.0.2.4"]})"
               "\n";
    }
    DnsNameIndex index;
    const auto counters = exporters::load_dns_log(path.string(), 0, 2000, index);
    CHECK(counters.lines == 6);
    CHECK(counters.responses == 1);
    CHECK(counters.bad_lines == 2);
    CHECK(texts(index.addresses_under("example.com")) == std::vector<std::string>{"192.0.2.1"});
    CHECK_THROWS_AS(exporters::load_dns_log("/nonexistent/dns.jsonl", 0, 1, index), std::runtime_error);
    std::filesystem::remove(path);
}

TEST_CASE("the archive's DNS files name addresses as a DNS log does, within the time window") {
    const auto base = std::filesystem::temp_directory_path() / ("flowguard-dns-archive-" + std::to_string(::getpid()));
    std::filesystem::remove_all(base);
    constexpr std::uint64_t kSec = 1'000'000'000;
    constexpr std::uint64_t t0 = 1'764'000'000ull * kSec;  // 2025-11-24T16:00:00Z
    ArchiveConfig config;
    config.path = (base / "archive").string();
    {
        exporters::ArchiveWriter writer(config);
        writer.open(t0);
        const std::vector<DnsEvent> events{response("www.example.com", {"93.184.216.34"}, {}, t0 + kSec),
                                           response("late.example.com", {"198.51.100.99"}, {}, t0 + 400 * kSec),
                                           response("other.test", {"203.0.113.5"}, {}, t0 + 2 * kSec)};
        writer.write_dns(events, t0 + 500 * kSec);  // the writer's clock: the second interval's file
        writer.close();
    }
    DnsNameIndex index;
    const auto read = exporters::load_dns_archive((base / "archive.events").string(), t0, t0 + 300 * kSec, index);
    CHECK(read.files == 1);
    CHECK(read.lines == 3);
    CHECK(read.responses == 2);  // late.example.com is after the window
    CHECK(texts(index.addresses_under("example.com")) == std::vector<std::string>{"93.184.216.34"});
    CHECK(texts(index.addresses_under("other.test")) == std::vector<std::string>{"203.0.113.5"});
    std::filesystem::remove_all(base);
}
