#include "sunburst_encoder.hpp"

#include <flowguard/analyzer/sunburst.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

using namespace flowguard::analyzer;

namespace {

std::string fixture(const std::string& relative) {
    const char* root = std::getenv("FLOWGUARD_FIXTURES");
    REQUIRE(root != nullptr);
    return std::string(root) + "/" + relative;
}

std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream in(path);
    REQUIRE(in.good());
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) lines.push_back(line);
    }
    return lines;
}

std::optional<std::string> assemble(const std::vector<std::string>& names) {
    SunburstDomainAssembler assembler;
    std::uint64_t guid = 0;
    for (const auto& name : names) {
        const auto message = decode_sunburst_name(name);
        REQUIRE(message.kind == SunburstKind::domain_fragment);
        guid = message.guid;
        assembler.add(message);
    }
    return assembler.domain(guid);
}

}  // namespace

TEST_CASE("published victims: central.pima.gov in two fragments, coxnet.cox.com in one") {
    // Names from passive DNS (bambenek/research); the victims were named by Kaspersky and Reuters.
    const std::vector<std::string> pima = {"0oni12r13ficnkqb2w.appsync-api.us-west-2.avsvmcloud.com",
                                           "r1q6arhpujcf6jb6ervisu10odohu0it.appsync-api.us-west-2.avsvmcloud.com"};
    CHECK(assemble(pima) == "central.pima.gov");
    CHECK(assemble({pima[1], pima[0]}) == "central.pima.gov");
    const auto first = decode_sunburst_name(pima[1]);
    CHECK(guid_hex(first.guid) == "F90BDDB47E495629");
    CHECK(first.sequence == 0);
    CHECK_FALSE(first.last);
    CHECK(decode_sunburst_name(pima[0]).last);
    CHECK(assemble({"610ol17ptgqa9i5he2mvri0ee2m0ce2h.appsync-api.us-east-2.avsvmcloud.com"}) == "coxnet.cox.com");
    // Only the first fragment: the domain is not complete.
    CHECK_FALSE(assemble({pima[1]}).has_value());
}

TEST_CASE("Mandiant's stage-2 CNAME names are pings with the stage-2 flag at Netresec's timestamps") {
    const std::map<std::string, std::int64_t> expected = {
        {"6a57jk2ba1d9keg15cbg.appsync-api.eu-west-1.avsvmcloud.com", 1592038800},  // 2020-06-13 09:00
        {"7sbvaemscs0mc925tb99.appsync-api.us-west-2.avsvmcloud.com", 1591914600},  // 2020-06-11 22:30
        {"gq1h856599gqh538acqn.appsync-api.us-west-2.avsvmcloud.com", 1592037000},  // 2020-06-13 08:30
        {"ihvpgv9psvq02ffo77et.appsync-api.us-east-2.avsvmcloud.com", 1592620200},  // 2020-06-20 02:30
        {"k5kcubuassl3alrf7gm3.appsync-api.eu-west-1.avsvmcloud.com", 1595437200},  // 2020-07-22 17:00
        {"mhdosoksaccf9sni9icp.appsync-api.eu-west-1.avsvmcloud.com", 1595529000},  // 2020-07-23 18:30
    };
    for (const auto& [name, when] : expected) {
        CAPTURE(name);
        const auto message = decode_sunburst_name(name);
        CHECK(message.kind == SunburstKind::ping);
        CHECK(message.stage2);
        CHECK(message.timestamp == when);
    }
}

TEST_CASE("all 1,722 names seen in passive DNS decode, with consistent regions and known victims") {
    const auto names = read_lines(fixture("sunburst/bambenek-uniq-hostnames.txt"));
    REQUIRE(names.size() == 1722);
    std::map<SunburstKind, int> kinds;
    SunburstDomainAssembler assembler;
    std::vector<SunburstMessage> messages;
    for (const auto& name : names) {
        messages.push_back(decode_sunburst_name(name));
        ++kinds[messages.back().kind];
        assembler.add(messages.back());
        if (messages.back().kind == SunburstKind::ping || messages.back().kind == SunburstKind::services) {
            // SUNBURST was active from spring to December 2020.
            CHECK(messages.back().timestamp >= 1577836800);  // 2020-01-01
            CHECK(messages.back().timestamp < 1609459200);   // 2021-01-01
        }
    }
    CHECK(kinds[SunburstKind::domain_fragment] == 1076);
    CHECK(kinds[SunburstKind::ping] == 357);
    CHECK(kinds[SunburstKind::services] == 288);
    CHECK(kinds[SunburstKind::invalid] == 1);  // its region disagrees with its GUID
    std::set<std::string> domains;
    for (const auto& message : messages) {
        if (auto domain = assembler.domain(message.guid)) domains.insert(*domain);
    }
    // Netresec's published examples, including base32-encoded (upper-case) ones split across fragments.
    for (const char* victim : {"central.pima.gov", "coxnet.cox.com", "BrokenArrow.Local", "CIMBMY.CIMBDomain.com",
                               "BE.AJINOMOTO-OMNICHEM.AD", "Sunkistgrowers.com", "sc.pima.gov"}) {
        CAPTURE(victim);
        CHECK(domains.count(victim) == 1);
    }
    CHECK(domains.size() >= 190);
}

TEST_CASE("round trip: names built by the backdoor's encoding decode to what was encoded") {
    for (std::uint32_t seed = 1; seed <= 40; ++seed) {
        CAPTURE(seed);
        flowguard::test::SunburstEncoder encoder(seed);
        std::mt19937_64 random(seed);
        const std::uint64_t guid = random();
        const std::vector<std::string> domains = {
            "corp.example.com", "a.b",      "very-long-internal-ad-domain-name.subsidiary.example.org",
            "Mixed.Case.Local", "x0_0-0.0", "ÅLAND.example"};
        const auto& domain = domains[seed % domains.size()];
        const auto names = encoder.domain_names(guid, domain);
        SunburstDomainAssembler assembler;
        std::string joined;
        for (const auto& name : names) {
            const auto message = decode_sunburst_name(name);
            REQUIRE(message.kind == SunburstKind::domain_fragment);
            CHECK(message.guid == guid);
            assembler.add(message);
        }
        CHECK(assembler.domain(guid) == domain);
        for (const auto& name : names) joined += assembler.fragment_text(decode_sunburst_name(name)).value_or("?");
        CHECK(joined == domain);
        CHECK(assembler.sequence_of(decode_sunburst_name(names.back())) == static_cast<int>(names.size()) - 1);

        const std::int64_t when = 1577836800 + static_cast<std::int64_t>(random() % (365 * 48)) * 1800;
        const bool stage2 = seed % 3 == 0;
        const auto ping = decode_sunburst_name(encoder.data_name(guid, when, stage2, 1));
        CHECK(ping.kind == SunburstKind::ping);
        CHECK(ping.guid == guid);
        CHECK(ping.timestamp == when);
        CHECK(ping.stage2 == stage2);
        // Two bits per product, product 0 in the lowest bits of the last byte: 0b10 running, 0b01 stopped.
        const std::uint16_t bits = 0b0110'0000'0000'0110;
        const auto report = decode_sunburst_name(encoder.data_name(guid, when, stage2, 2, bits));
        REQUIRE(report.kind == SunburstKind::services);
        CHECK(report.guid == guid);
        REQUIRE(report.services.size() == 8);
        // Product i's pair is bits 2i (stopped) and 2i+1 (running) counted from the last byte.
        CHECK(report.services[1].stopped);
        CHECK_FALSE(report.services[1].running);
        CHECK(report.services[0].running);
        CHECK(report.services[6].running);
        CHECK(report.services[7].stopped);
        CHECK_FALSE(report.services[3].running);
    }
}

TEST_CASE("names that are not SUNBURST's are invalid, never a crash") {
    for (const char* name : {"", ".", "avsvmcloud.com", "www.avsvmcloud.com", "x.appsync-api.us-west-2.avsvmcloud.com",
                             "0123456789abcdef.appsync-api.us-west-2.avsvmcloud.com",
                             "!!!!!!!!!!!!!!!!!!!!.appsync-api.us-west-2.avsvmcloud.com",
                             "r1q6arhpujcf6jb6ervisu10odohu0it.appsync-api.mars-1.avsvmcloud.com",
                             "r1q6arhpujcf6jb6ervisu10odohu0it.appsync-api.us-west-2.example.com", "a.b.c.d.e.f"}) {
        CAPTURE(name);
        CHECK(decode_sunburst_name(name).kind == SunburstKind::invalid);
        CHECK_FALSE(decode_sunburst_name(name).invalid_reason.empty());
    }
    // Case and a trailing dot do not matter (DNS 0x20 randomisation, fully qualified names).
    CHECK(decode_sunburst_name("R1Q6ARHPUJCF6JB6ERVISU10ODOHU0IT.appsync-api.US-WEST-2.avsvmcloud.com.").kind ==
          SunburstKind::domain_fragment);
    CHECK(is_avsvmcloud_name("AVSVMCLOUD.com."));
    CHECK(is_avsvmcloud_name("x.avsvmcloud.com"));
    CHECK_FALSE(is_avsvmcloud_name("notavsvmcloud.com"));
}

TEST_CASE("the assembler keeps at most max_victims GUIDs") {
    flowguard::test::SunburstEncoder encoder(7);
    SunburstDomainAssembler assembler(2);
    for (std::uint64_t guid : {0x1111ull, 0x2222ull, 0x3333ull}) {
        for (const auto& name : encoder.domain_names(guid, "a.local")) assembler.add(decode_sunburst_name(name));
    }
    CHECK(assembler.victims() == 2);
    CHECK_FALSE(assembler.domain(0x1111).has_value());
    CHECK(assembler.domain(0x3333) == "a.local");
}
