// Each detector alone, through the Detector interface, with the passive-DNS context it shares.
#include "pipeline_doubles.hpp"

#include <flowguard/analyzer/beacon_detector.hpp>
#include <flowguard/analyzer/beacon_series.hpp>
#include <flowguard/analyzer/config.hpp>
#include <flowguard/analyzer/dga_detector.hpp>
#include <flowguard/analyzer/dns_beacon_detector.hpp>
#include <flowguard/analyzer/ioc_detector.hpp>
#include <flowguard/analyzer/lists.hpp>
#include <flowguard/analyzer/passive_dns.hpp>
#include <flowguard/analyzer/sunburst_detector.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>

using namespace flowguard;
using namespace flowguard::analyzer;

namespace {

constexpr std::uint64_t kSecond = 1'000'000'000;
constexpr std::uint64_t kT0 = 1'700'000'000 * kSecond;

PublicSuffixList psl() {
    auto list = PublicSuffixList::fallback();
    list.add_rule("com");
    return list;
}

// Beacon settings that report a finding as soon as it is decided (beacon.hold 0): the tests of scoring.
BeaconConfig immediate() {
    BeaconConfig config;
    config.hold_ns = 0;
    return config;
}

// A detector with the context it reads: events go through the context first, as the analyzer does.
struct Bench {
    explicit Bench(std::unique_ptr<Detector> d, AnalyzerConfig config = {})
        : context(passive_dns_config(config), NetworkSet::private_networks(), psl()), detector(std::move(d)) {}
    std::vector<Alert> dns(const std::vector<DnsEvent>& events) {
        context.update(events, notes);
        detector->on_dns(DnsBatchView{events, notes, context}, out);
        return take();
    }
    std::vector<Alert> flows(const std::vector<FlowRecord>& records) {
        detector->on_flows(FlowBatchView{records, context}, out);
        return take();
    }
    std::vector<Alert> finish() {
        detector->finish(context, out);
        return take();
    }
    // The alerts the alert log shows (`ongoing` ones only tell the finding ledger a finding goes on).
    std::vector<Alert> take() {
        std::vector<Alert> alerts = take_all();
        std::erase_if(alerts, [](const Alert& a) { return a.status == AlertStatus::ongoing; });
        return alerts;
    }
    std::vector<Alert> take_all() {
        std::vector<Alert> alerts;
        out.take(alerts);
        return alerts;
    }
    PassiveDns context;
    std::unique_ptr<Detector> detector;
    std::vector<DnsNote> notes;
    AlertOut out;
};

FlowRecord outbound(const char* src, const char* dst, std::uint16_t port, std::uint64_t t, std::uint64_t bytes = 1200) {
    FlowRecord r;
    r.src_addr = *IpAddress::parse(src);
    r.dst_addr = *IpAddress::parse(dst);
    // A whole short connection: an ephemeral port of its own, SYN to FIN (a record of the same 5-tuple without a
    // SYN would continue an earlier connection, as a keep-alive does).
    r.src_port = static_cast<std::uint16_t>(32768 + (t / 1'000'000'000ull) % 28000);
    r.tcp_flags = 0x1b;
    r.dst_port = port;
    r.proto = 6;
    r.bytes = bytes;
    r.time_flow_start_ns = t;
    return r;
}

DnsEvent query(const char* client, const std::string& name, std::uint64_t t) {
    DnsEvent e;
    e.client = *IpAddress::parse(client);
    e.server = *IpAddress::parse("10.0.0.53");
    e.qname.assign(name);
    e.time_ns = t;
    return e;
}

DnsEvent answer(const char* client, const std::string& name, const char* address, std::uint64_t t, std::uint32_t ttl) {
    DnsEvent e = query(client, name, t);
    e.response = true;
    e.addresses[0] = *IpAddress::parse(address);
    e.address_count = 1;
    e.min_ttl = ttl;
    return e;
}

std::string random_label(std::mt19937& rng) {
    static const char* alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::string label;
    for (int c = 0; c < 24; ++c) label += alphabet[rng() % 36];
    return label;
}

std::map<std::string, double> metrics_of(const Detector& d) {
    testing::RecordedMetrics metrics;
    d.write_metrics(metrics);
    return metrics.values;
}

}  // namespace

TEST_CASE("passive DNS: resolvers learned from their answers, their forwarded queries skipped; names expire") {
    PassiveDns context({}, NetworkSet::private_networks(), psl());
    std::vector<DnsNote> notes;
    const std::vector<DnsEvent> events{query("10.0.0.53", "a.example.com", kT0),  // before it is known
                                       answer("10.0.0.9", "www.example.com", "93.184.216.34", kT0 + 1, 300),
                                       query("10.0.0.53", "b.example.com", kT0 + 2)};
    context.update(events, notes);
    REQUIRE(notes.size() == 3);
    CHECK_FALSE(notes[0].skip);  // as it stood at that event: not a resolver yet
    CHECK(notes[2].skip);
    CHECK(notes[1].domain == "example.com");
    CHECK(context.stats().resolvers_learned == 1);
    const auto id = notes[1].domain_id;
    const auto client = *IpAddress::parse("10.0.0.9"), address = *IpAddress::parse("93.184.216.34");
    CHECK(context.resolved_name(client, address, kT0 + 100 * kSecond) == id);
    CHECK(context.resolved_name(client, address, kT0 + 361 * kSecond) == 0);  // TTL + 60 s
    CHECK(context.domain(id) == "example.com");
    CHECK(context.domain_first_seen(id) == kT0);  // the forwarded query named it first
}

TEST_CASE("passive DNS: query names per client and domain, with the table's reset noted where it happened") {
    PassiveDnsConfig config;
    config.max_query_names = 16;
    PassiveDns context(config, NetworkSet::private_networks(), psl());
    std::vector<DnsNote> notes;
    std::vector<DnsEvent> events;
    for (int i = 0; i < 20; ++i)
        events.push_back(query(("10.0.1." + std::to_string(i)).c_str(), "x" + std::to_string(i) + ".example.com", kT0));
    events.push_back(query("10.0.1.19", "y.example.com", kT0 + 1));
    events.push_back(query("10.0.1.19", "example.com", kT0 + 2));  // the registered domain itself: no label
    context.update(events, notes);
    CHECK(notes[0].subdomain);
    CHECK(notes[0].new_name);
    CHECK(notes[16].names_reset);  // the 17th client found the table full
    CHECK(context.stats().names_evictions == 16);
    CHECK(notes[20].queries == 2);
    CHECK(notes[20].unique_names == doctest::Approx(2).epsilon(0.1));
    CHECK_FALSE(notes[21].subdomain);
    CHECK(notes[21].names_present);  // what the client asked before is still there
    CHECK(notes[21].samples == 2);
}

TEST_CASE("passive DNS: answers beyond max_resolved are forgotten and counted; domains beyond max_domains untracked") {
    PassiveDnsConfig config;
    config.max_resolved = 6;
    config.max_domains = 4;
    PassiveDns context(config, NetworkSet::private_networks(), psl());
    std::vector<DnsNote> notes;
    std::vector<DnsEvent> events;
    for (int i = 0; i < 12; ++i)
        events.push_back(answer("10.0.1.5", "www.d" + std::to_string(i % 6) + ".com",
                                ("198.18.0." + std::to_string(i)).c_str(), kT0 + i, 300));
    context.update(events, notes);
    const auto stats = context.stats();
    CHECK(stats.domains_untracked == 4);  // d4 and d5, twice each: their answers keep no name
    CHECK(stats.names_evictions == 6);    // the 7th named answer found the table full: its 6 entries forgotten
    const auto client = *IpAddress::parse("10.0.1.5");
    CHECK(context.resolved_name(client, *IpAddress::parse("198.18.0.0"), kT0 + 20) == 0);  // forgotten
    CHECK(context.resolved_name(client, *IpAddress::parse("198.18.0.9"), kT0 + 20) != 0);  // d3, after the reset
    CHECK(context.resolved_name(client, *IpAddress::parse("198.18.0.4"), kT0 + 20) == 0);  // d4: untracked
}

TEST_CASE("passive DNS: a full domain table forgets idle domains, never live ones, and names new ones again") {
    PassiveDnsConfig config;
    config.max_domains = 16;
    config.name_ttl_cap_ns = 3600 * kSecond;
    PassiveDns context(config, NetworkSet::private_networks(), psl());
    std::vector<DnsNote> notes;
    std::vector<DnsEvent> events;
    // 16 domains named at kT0; 4 of them asked again two hours later, when a flood of new domains begins.
    for (int i = 0; i < 16; ++i) events.push_back(query("10.0.1.5", "www.old" + std::to_string(i) + ".com", kT0));
    const std::uint64_t later = kT0 + 7200 * kSecond;
    for (int i = 0; i < 4; ++i) events.push_back(query("10.0.1.5", "www.old" + std::to_string(i) + ".com", later));
    context.update(events, notes);
    const auto live_id = notes[0].domain_id;
    events.clear();
    for (int i = 0; i < 40; ++i)
        events.push_back(answer("10.0.1.6", "x.flood" + std::to_string(i) + ".net", "198.18.1.1", later + i, 60));
    context.update(events, notes);
    auto stats = context.stats();
    // The 12 idle domains made room, an eighth of the table (2) per sweep; the 4 live ones were kept.
    CHECK(stats.domains_forgotten == 12);
    CHECK(stats.domains == 16);
    CHECK(stats.domains_untracked == 28);  // 40 new, 12 places: the rest untracked while the table is all live
    CHECK(context.domain(live_id) == "old0.com");
    CHECK(notes[0].domain_id != 0);
    CHECK(notes[39].domain_id == 0);
    // A minute later (the sweep's pause) and an hour on, the flood's domains are idle in turn: a new one fits.
    events = {query("10.0.1.7", "www.fresh.org", later + 3700 * kSecond)};
    context.update(events, notes);
    CHECK(notes[0].domain_id != 0);
    CHECK(context.domain(notes[0].domain_id) == "fresh.org");
    CHECK(context.stats().domains_forgotten > 12);
    // A forgotten id keeps no name and is not handed to another domain.
    CHECK(context.domain(notes[0].domain_id + 1000).empty());
}

TEST_CASE("IOC detector: listed addresses in flows, names, CNAMEs and answers in DNS; SIGHUP lists apply") {
    Bench bench(std::make_unique<IocDetector>(IocList::sunburst()));
    auto alerts = bench.flows(
        {outbound("10.0.0.6", "13.59.205.66", 443, kT0), outbound("10.0.0.6", "13.59.205.66", 443, kT0 + 1)});
    REQUIRE(alerts.size() == 1);  // one per (client, indicator)
    CHECK(alerts[0].kind == "ioc_address");
    CHECK(alerts[0].src_addr.to_string() == "10.0.0.6");
    CHECK(alerts[0].evidence.at("seen_in").as_string() == "flow");
    auto cname = answer("10.0.0.7", "www.example.com", "192.0.2.1", kT0, 60);
    cname.cnames[0].assign("deftsecurity.com");
    cname.cname_count = 1;
    alerts = bench.dns({query("10.0.0.7", "x.avsvmcloud.com", kT0), cname});
    REQUIRE(alerts.size() == 2);
    CHECK(alerts[0].kind == "ioc_domain");
    CHECK(alerts[1].evidence.at("seen_in").as_string() == "cname");
    AnalyzerLists lists{IocList{}, {}, {}};
    lists.iocs.add("198.51.100.99", "user");
    bench.detector->reload(lists);
    CHECK(bench.flows({outbound("10.0.0.8", "198.51.100.99", 443, kT0)}).size() == 1);
    CHECK(bench.flows({outbound("10.0.0.9", "13.59.205.66", 443, kT0)}).empty());    // the new list only
    CHECK(metrics_of(*bench.detector).at("flowguard_ioc_matches_total|flow") == 3);  // matches, not alerts
}

TEST_CASE("SUNBURST detector: each decoded name is a critical alert naming the client; others are counted") {
    Bench bench(std::make_unique<SunburstDetector>());
    // One of the 1,722 names seen in passive DNS (a first fragment of city.kingston.*), and one that is not SUNBURST.
    const auto alerts =
        bench.dns({query("10.9.9.9", "r1qshoj05ji05ac6eoip02jovt6i2v0c.appsync-api.us-west-2.avsvmcloud.com", kT0),
                   query("10.9.9.9", "zzz.appsync-api.us-west-2.avsvmcloud.com", kT0 + 1)});
    REQUIRE(alerts.size() == 1);
    CHECK(alerts[0].kind == "sunburst_dns");
    CHECK(alerts[0].severity == Severity::critical);
    CHECK(alerts[0].src_addr.to_string() == "10.9.9.9");
    const auto metrics = metrics_of(*bench.detector);
    CHECK(metrics.at("flowguard_sunburst_names_total|decoded") == 1);
    CHECK(metrics.at("flowguard_sunburst_names_total|invalid") == 1);
}

TEST_CASE("DGA detector: many random-looking subdomains of one domain; word-like names and popular schemes not") {
    Bench bench(std::make_unique<DgaDetector>(DgaConfig{}));
    std::mt19937 rng(5);
    std::vector<DnsEvent> events;
    for (int i = 0; i < 20; ++i) {
        events.push_back(query("10.0.0.20", random_label(rng) + ".lookalikecloud.com", kT0 + i * kSecond));
        events.push_back(query("10.0.0.21", "host" + std::to_string(i) + "mail.wordsonly.com", kT0 + i * kSecond));
    }
    auto alerts = bench.dns(events);
    REQUIRE(alerts.size() == 1);
    CHECK(alerts[0].kind == "dga_domain");
    CHECK(alerts[0].domain == "lookalikecloud.com");
    CHECK(alerts[0].evidence.at("sample_names").as_array().size() == 3);
    // Four more clients with random names under one domain: a CDN's scheme, decided once, suppressed.
    events.clear();
    for (int client = 0; client < 5; ++client)
        for (int i = 0; i < 14; ++i)
            events.push_back(
                query(("10.0.2." + std::to_string(client)).c_str(), random_label(rng) + ".cdnexample.com", kT0));
    alerts = bench.dns(events);
    CHECK(alerts.size() == 3);  // the first three clients, before the domain had more than max_clients
    CHECK(bench.detector->stats().suppressed_popular == 2);
    CHECK(metrics_of(*bench.detector).at("flowguard_dga_names_scored_total") >= 90);
}

TEST_CASE("beacon detector: by address and by resolved name; allow-listed ports, inbound and answers are not") {
    Bench bench(std::make_unique<BeaconDetector>(immediate()));
    bench.dns({answer("10.0.0.5", "cdn.example.com", "198.51.100.7", kT0, 86400)});
    std::vector<FlowRecord> flows;
    for (int i = 0; i < 12; ++i) {
        const auto t = kT0 + static_cast<std::uint64_t>(i) * 60 * kSecond + (i % 3) * kSecond;
        flows.push_back(outbound("10.0.0.5", "198.51.100.7", 443, t));
        flows.push_back(outbound("10.0.0.6", "198.51.100.8", 123, t, 76));  // NTP: allow-listed
        flows.push_back(outbound("198.51.100.9", "10.0.0.7", 443, t));      // inbound
    }
    auto alerts = bench.flows(flows);
    // The address series and the name series of one client and destination are one finding: opened by the
    // first, updated with the evidence of both by the second.
    REQUIRE(alerts.size() == 2);
    CHECK(alerts[0].dedup_key == "beacon:10.0.0.5:example.com");
    CHECK(alerts[0].status == AlertStatus::open);
    CHECK(alerts[0].dst_addr.to_string() == "198.51.100.7");
    CHECK(alerts[0].domain == "example.com");
    CHECK(alerts[0].dst_port == 443);
    CHECK(alerts[1].dedup_key == alerts[0].dedup_key);
    CHECK(alerts[1].id == alerts[0].id);
    CHECK(alerts[1].status == AlertStatus::updated);
    CHECK(alerts[1].dst_addr.to_string() == "198.51.100.7");
    const auto& series = alerts[1].evidence.at("series").as_array();
    REQUIRE(series.size() == 2);
    CHECK(series[0].at("series").as_string() == "address");
    CHECK(series[1].at("series").as_string() == "name");
    CHECK(series[1].at("evidence").at("grouped_by").as_string().find("resolved name") != std::string::npos);
    CHECK(bench.detector->stats().series == 2);
    AnalyzerLists lists{IocList{}, {8443}, {}};
    bench.detector->reload(lists);
    flows.clear();
    for (int i = 0; i < 12; ++i)
        flows.push_back(
            outbound("10.0.0.9", "198.51.100.10", 8443, kT0 + static_cast<std::uint64_t>(i) * 60 * kSecond));
    CHECK(bench.flows(flows).empty());
    CHECK(bench.finish().empty());
}

TEST_CASE("DNS beacon detector: one registered domain on a schedule, with the names the context saw") {
    Bench bench(std::make_unique<DnsBeaconDetector>(immediate()));
    std::mt19937 rng(9);
    std::vector<DnsEvent> events;
    for (int i = 0; i < 12; ++i) {
        const auto t = kT0 + static_cast<std::uint64_t>(i) * 1800 * kSecond + (i % 2) * 20 * kSecond;
        events.push_back(query("10.0.0.30", random_label(rng) + ".c2example.com", t));
        events.push_back(query("10.0.0.30", random_label(rng) + ".c2example.com", t + kSecond / 2));  // AAAA: once
    }
    const auto alerts = bench.dns(events);
    REQUIRE(alerts.size() == 1);
    CHECK(alerts[0].kind == "dns_beacon");
    CHECK(alerts[0].domain == "c2example.com");
    CHECK(alerts[0].evidence.at("total_events").to_number<int>() == 10);  // scored at the 10th check-in
    CHECK(alerts[0].evidence.at("unique_names").as_double() >= 18);
    CHECK(alerts[0].techniques.back() == "T1568.002");  // fresh names every time
}

TEST_CASE("DNS beacon detector: a proxy's lookups for its clients are not a series of its own") {
    BeaconConfig config = immediate();
    config.relay.relays.push_back({*IpAddress::parse("10.0.0.30"), {3128}});
    const Relays relays(config.relay);
    Bench bench(std::make_unique<DnsBeaconDetector>(config, &relays));
    std::vector<DnsEvent> events;
    for (int i = 0; i < 12; ++i) {  // a name its clients use, looked up again whenever its 300 s TTL ran out
        events.push_back(
            query("10.0.0.30", "download.example-updates.com", kT0 + static_cast<std::uint64_t>(i) * 301 * kSecond));
        events.push_back(
            query("10.0.0.31", "download.example-updates.com", kT0 + static_cast<std::uint64_t>(i) * 301 * kSecond));
    }
    const auto alerts = bench.dns(events);
    REQUIRE(alerts.size() == 1);  // the same schedule from a host that is not a relay
    CHECK(alerts[0].src_addr == *IpAddress::parse("10.0.0.31"));
    CHECK(metrics_of(*bench.detector)["flowguard_dns_beacon_relay_queries_total"] == 12);
}

TEST_CASE("alert out: a finding once; a batch's alerts in event order; the end's in first-seen order") {
    AlertOut out;
    auto alert = [](std::string key, std::uint64_t first) {
        Alert a;
        a.dedup_key = std::move(key);
        a.first_seen_ns = first * kSecond;
        return a;
    };
    out.raise(alert("b", 5), 3);
    out.raise(alert("a", 9), 1);
    out.raise(alert("b", 6), 0);  // reported already
    out.raise(alert("late", 2), AlertOut::kAtEnd);
    out.raise(alert("early", 1), AlertOut::kAtEnd);
    std::vector<Alert> taken;
    out.take(taken);
    REQUIRE(taken.size() == 4);
    CHECK(taken[0].dedup_key == "a");
    CHECK(taken[1].dedup_key == "b");
    CHECK(taken[1].id == "b@5");
    CHECK(taken[2].dedup_key == "early");
    CHECK(taken[3].dedup_key == "late");
    CHECK(out.raised() == 4);
}

namespace {

// One long-lived session's records, as an exporter with a 15 s idle timeout cuts it: one per keep-alive, the
// first with SYN. flags_exported = false: an exporter that sends no TCP flags at all.
std::vector<FlowRecord> keepalive_records(const char* client, const char* server, std::uint16_t client_port,
                                          std::uint64_t start, std::uint64_t interval_s, int count,
                                          bool flags_exported = true) {
    std::vector<FlowRecord> records;
    for (int i = 0; i < count; ++i) {
        FlowRecord r = outbound(client, server, 443, start + static_cast<std::uint64_t>(i) * interval_s * kSecond, 90);
        r.src_port = client_port;
        r.time_flow_end_ns = r.time_flow_start_ns + kSecond / 10;
        r.tcp_flags = !flags_exported ? 0 : i == 0 ? 0x1a : 0x18;
        records.push_back(r);
    }
    return records;
}

}  // namespace

TEST_CASE("beacon detector: a long-lived session's keep-alives are one connection, not a beacon") {
    for (const bool flags : {true, false}) {
        CAPTURE(flags);
        BeaconConfig config;
        config.long_connection_ns = 0;
        Bench bench(std::make_unique<BeaconDetector>(config));
        // A chat websocket pinging every 30 s for an hour, and a VPN's UDP keep-alive every 22 s.
        auto records = keepalive_records("10.0.0.5", "198.51.100.7", 40000, kT0, 30, 120, flags);
        for (auto r : keepalive_records("10.0.0.5", "198.51.100.9", 40001, kT0, 22, 160, flags)) {
            r.proto = 17;
            r.dst_port = 4500;
            records.push_back(r);
        }
        std::sort(records.begin(), records.end(),
                  [](const auto& a, const auto& b) { return a.time_flow_start_ns < b.time_flow_start_ns; });
        CHECK(bench.flows(records).empty());
        CHECK(bench.finish().empty());
        CHECK(metrics_of(*bench.detector)["flowguard_beacon_records_continuing_total"] == 119 + 159);
        CHECK(metrics_of(*bench.detector)["flowguard_beacon_connections"] == 2);
    }
    // The same schedule as fresh connections (a new port and a SYN each time) is the beacon it looks like.
    Bench bench(std::make_unique<BeaconDetector>(immediate()));
    auto records = keepalive_records("10.0.0.5", "198.51.100.7", 40000, kT0, 30, 20);
    for (std::size_t i = 0; i < records.size(); ++i) {
        records[i].src_port = static_cast<std::uint16_t>(40000 + i);
        records[i].tcp_flags = 0x1b;
    }
    CHECK(bench.flows(records).size() == 1);
}

TEST_CASE("beacon detector: a beacon through a proxy is its client's; a relay's own series needs stronger evidence") {
    BeaconConfig config = immediate();
    config.relay.relays.push_back({*IpAddress::parse("10.0.0.8"), {3128}});  // a forward proxy
    config.relay.relays.push_back({*IpAddress::parse("10.0.0.1"), {}});      // a NAT gateway
    config.relay.threshold = 1.0;  // a relay's own series: never periodic enough here
    Bench bench(std::make_unique<BeaconDetector>(config));
    std::vector<FlowRecord> records;
    for (int i = 0; i < 20; ++i) {
        const auto t = kT0 + static_cast<std::uint64_t>(i) * 600 * kSecond + (i % 4) * kSecond;
        // The server's CONNECT to the proxy, the proxy's answer, then the proxy's upstream connection.
        FlowRecord to_proxy = outbound("10.2.0.5", "10.0.0.8", 3128, t);
        FlowRecord answer = to_proxy;
        std::swap(answer.src_addr, answer.dst_addr);
        std::swap(answer.src_port, answer.dst_port);
        answer.time_flow_start_ns += 2'000'000;
        records.push_back(to_proxy);
        records.push_back(answer);
        records.push_back(outbound("10.0.0.8", "198.51.100.7", 443, t + 120'000'000));
        // The same schedule from behind a NAT gateway, seen only on its outside.
        records.push_back(outbound("10.0.0.1", "198.51.100.9", 443, t + (5 + (i * 37) % 60) * kSecond));
    }
    auto alerts = bench.flows(records);
    for (const auto& a : bench.finish()) alerts.push_back(a);
    REQUIRE(alerts.size() == 1);
    CHECK(alerts[0].src_addr == *IpAddress::parse("10.2.0.5"));
    CHECK(alerts[0].dst_addr == *IpAddress::parse("198.51.100.7"));
    CHECK(alerts[0].evidence.at("via_relay").as_string() == "10.0.0.8");
    auto metrics = metrics_of(*bench.detector);
    CHECK(metrics["flowguard_beacon_relay_attributed_total"] == 20);
    CHECK(metrics["flowguard_beacon_relays"] == 2);
    CHECK(metrics["flowguard_beacon_relay_suppressed_total"] >= 1);

    // Without the relays configured, the proxy's and the NAT gateway's series are beacons of their own.
    Bench plain(std::make_unique<BeaconDetector>(immediate()));
    alerts = plain.flows(records);
    for (const auto& a : plain.finish()) alerts.push_back(a);
    std::vector<std::string> clients;
    for (const auto& a : alerts) clients.push_back(a.src_addr.to_string());
    std::sort(clients.begin(), clients.end());
    CHECK(clients == std::vector<std::string>{"10.0.0.1", "10.0.0.8"});
}

TEST_CASE("beacon detector: a decided series waits out the hold; a service others join meanwhile is not reported") {
    // Today's address of a load-balanced service: its first client's series decides after 10 minutes; three
    // more clients start on the same schedule within the hour. Held for an hour, the first is not reported.
    // A lone client's beacon to another host is reported when its hold ends (the next record after it).
    Bench bench(std::make_unique<BeaconDetector>(BeaconConfig{}));  // hold: 1 h
    std::vector<FlowRecord> flows;
    for (int i = 0; i < 120; ++i) {
        const auto t = kT0 + static_cast<std::uint64_t>(i) * 60 * kSecond + (i % 3) * kSecond;
        flows.push_back(outbound("10.0.0.5", "198.51.100.7", 443, t));
        if (i >= 20)
            for (int c = 1; c <= 3; ++c)
                flows.push_back(outbound(("10.0.0." + std::to_string(5 + c)).c_str(), "198.51.100.7", 443,
                                         t + static_cast<std::uint64_t>(c) * kSecond));
        flows.push_back(outbound("10.0.0.9", "203.0.113.50", 8443, t + 7 * kSecond));
    }
    std::vector<Alert> before_hold;
    std::vector<Alert> after_hold;
    const auto split = std::find_if(flows.begin(), flows.end(), [](const FlowRecord& r) {
        return r.time_flow_start_ns >= kT0 + 60 * 60 * kSecond;  // an hour in: no hold has ended yet
    });
    before_hold = bench.flows({flows.begin(), split});
    after_hold = bench.flows({split, flows.end()});
    CHECK(before_hold.empty());
    REQUIRE(after_hold.size() == 1);
    CHECK(after_hold[0].src_addr.to_string() == "10.0.0.9");
    CHECK(after_hold[0].dst_port == 8443);
    CHECK(bench.finish().empty());
    const auto metrics = metrics_of(*bench.detector);
    CHECK(metrics.at("flowguard_beacon_held_then_popular_total|beacon") >= 1);
    CHECK(metrics.at("flowguard_beacon_findings_held|beacon") == 0);
    // Without the hold, the first client of the service is alerted before anyone else joined.
    Bench eager(std::make_unique<BeaconDetector>(immediate()));
    const auto eager_alerts = eager.flows(flows);
    CHECK(std::any_of(eager_alerts.begin(), eager_alerts.end(),
                      [](const Alert& a) { return a.src_addr.to_string() == "10.0.0.5"; }));
}

TEST_CASE("beacon detector: an hours-long session to a rare destination is a long_connection; a shared one not") {
    BeaconConfig config;  // long_connection: 4 h
    Bench bench(std::make_unique<BeaconDetector>(config));
    bench.dns({answer("10.0.0.5", "shell.rare-host.com", "198.51.100.66", kT0, 86400)});
    // 5 hours of 60 s keep-alives to a host no one else holds sessions with.
    auto alerts = bench.flows(keepalive_records("10.0.0.5", "198.51.100.66", 40000, kT0, 60, 300));
    REQUIRE(alerts.size() == 1);
    CHECK(alerts[0].kind == "long_connection");
    CHECK(alerts[0].dedup_key == "long-connection:10.0.0.5:198.51.100.66:443");
    CHECK(alerts[0].domain == "rare-host.com");
    CHECK(alerts[0].evidence.at("duration_s").to_number<std::int64_t>() >= 4 * 3600);
    CHECK(alerts[0].evidence.at("duration_s").to_number<std::int64_t>() < 4 * 3600 + 120);
    CHECK(alerts[0].evidence.at("src_port").to_number<std::int64_t>() == 40000);

    // Five clients hold day-long sessions to a chat service whose front addresses differ per client (a load
    // balancer): popular by name, so none is reported although each address has one client.
    Bench chat(std::make_unique<BeaconDetector>(config));
    std::vector<FlowRecord> records;
    for (int client = 0; client < 5; ++client) {
        const std::string ip = "10.0.1." + std::to_string(client + 1);
        const std::string front = "198.51.100." + std::to_string(100 + client);
        chat.dns({answer(ip.c_str(), "wss.chat.example-im.com", front.c_str(), kT0, 86400)});
        for (auto r : keepalive_records(ip.c_str(), front.c_str(), 41000, kT0 + client * kSecond, 30, 720))
            records.push_back(r);
    }
    std::sort(records.begin(), records.end(),
              [](const auto& a, const auto& b) { return a.time_flow_start_ns < b.time_flow_start_ns; });
    CHECK(chat.flows(records).empty());
    CHECK(chat.detector->stats().suppressed_popular == 5);
}

TEST_CASE("beacon detector: an address series is popular when its name is (addresses that rotate)") {
    Bench bench(std::make_unique<BeaconDetector>(immediate()));
    std::vector<FlowRecord> records;
    // Six clients poll one name every 120 s; each sees its own front address (a new one each day).
    for (int client = 0; client < 6; ++client) {
        const std::string ip = "10.0.2." + std::to_string(client + 1);
        const std::string front = "203.0.113." + std::to_string(10 + client);
        bench.dns({answer(ip.c_str(), "heartbeat.service-example.com", front.c_str(), kT0, 86400)});
        for (int i = 0; i < 40; ++i)
            records.push_back(outbound(ip.c_str(), front.c_str(), 443,
                                       kT0 + static_cast<std::uint64_t>(i) * 120 * kSecond + client * 3 * kSecond));
    }
    std::sort(records.begin(), records.end(),
              [](const auto& a, const auto& b) { return a.time_flow_start_ns < b.time_flow_start_ns; });
    CHECK(bench.flows(records).empty());
    CHECK(bench.finish().empty());
    CHECK(bench.detector->stats().suppressed_popular == 12);  // each client's address series and name series
}

TEST_CASE("beacon detector: an implant that sleeps with its laptop is scored on its waking hours") {
    // Awake 08:00-18:00 for 8 days (other traffic every 5 minutes), a 2 h beacon with +-40% jitter while awake,
    // and two bursts of page loads on one site a day apart (browsing).
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> jitter(-0.4, 0.4);
    const std::uint64_t day0 = (kT0 / (86'400 * kSecond)) * 86'400 * kSecond;
    std::vector<FlowRecord> records;
    std::uint16_t port = 33000;
    for (std::uint64_t day = 0; day < 8; ++day) {
        const std::uint64_t wake = day0 + day * 86'400 * kSecond + 8 * 3600 * kSecond;
        const std::uint64_t sleep = wake + 10 * 3600 * kSecond;
        for (std::uint64_t t = wake; t < sleep; t += 300 * kSecond) {
            records.push_back(outbound("10.0.0.5", "203.0.113.80", 443, t + (port % 7) * kSecond, 800 + port % 900));
            records.back().dst_addr = IpAddress::from_v4(0xCB007100u + port % 200);  // many sites
            records.back().src_port = ++port;
        }
        for (double t = 600 + 3000 * (1 + jitter(rng)); t < 36000; t += 7200 * (1 + jitter(rng))) {
            records.push_back(outbound("10.0.0.5", "198.51.100.77", 443, wake + static_cast<std::uint64_t>(t * 1e9),
                                       4000 + port % 400));
            records.back().src_port = ++port;
        }
        if (day == 2 || day == 3)
            for (int i = 0; i < 6; ++i) {
                records.push_back(outbound("10.0.0.5", "198.51.100.90", 443, wake + (3600 + i * 4) * kSecond, 9000));
                records.back().src_port = ++port;
            }
    }
    std::sort(records.begin(), records.end(),
              [](const auto& a, const auto& b) { return a.time_flow_start_ns < b.time_flow_start_ns; });
    Bench bench(std::make_unique<BeaconDetector>(immediate()));
    auto alerts = bench.flows(records);
    for (auto& a : bench.finish()) alerts.push_back(a);
    REQUIRE(alerts.size() == 1);
    CHECK(alerts[0].dst_addr.to_string() == "198.51.100.77");
    CHECK(alerts[0].evidence.at("intervals_asleep").to_number<int>() >= 1);
}

TEST_CASE("SUNBURST detector: a last fragment first is partial; the domain, once assembled, updates the finding") {
    // Names of one victim (GUID F90BDDB47E495629, central.pima.gov) from passive DNS, the last fragment first, as
    // after capture loss or a restart; the backdoor sends the fragments again, in order.
    Bench bench(std::make_unique<SunburstDetector>());
    const std::string last = "0oni12r13ficnkqb2w.appsync-api.us-west-2.avsvmcloud.com";
    const auto opened = bench.dns({query("10.9.9.9", last, kT0)});
    REQUIRE(opened.size() == 1);
    CHECK(opened[0].status == AlertStatus::open);
    CHECK(opened[0].evidence.at("victim_domain").is_null());
    CHECK(opened[0].evidence.at("victim_domain_partial") == "ov");
    CHECK(opened[0].evidence.at("victim_domain_complete") == false);
    // A ping, then the first fragment: the last one came before it, so a fragment between them may be missing.
    CHECK(bench
              .dns({query("10.9.9.9", "adqjnvh35j9e64s3gl1m91k.appsync-api.us-west-2.avsvmcloud.com",
                          kT0 + 1800 * kSecond)})
              .empty());
    CHECK(bench
              .dns({query("10.9.9.9", "r1q6arhpujcf6jb6ervisu10odohu0it.appsync-api.us-west-2.avsvmcloud.com",
                          kT0 + 3600 * kSecond)})
              .empty());
    // The last fragment again, right after the first: assembled.
    const auto updated = bench.dns({query("10.9.9.9", last, kT0 + 5400 * kSecond)});
    REQUIRE(updated.size() == 1);
    CHECK(updated[0].status == AlertStatus::updated);
    CHECK(updated[0].id == opened[0].id);
    CHECK(updated[0].evidence.at("victim_domain") == "central.pima.gov");
    CHECK(updated[0].evidence.at("victim_domain_complete") == true);
    CHECK(updated[0].last_seen_ns == kT0 + 5400 * kSecond);
    CHECK(bench.dns({query("10.9.9.9", last, kT0 + 7200 * kSecond)}).empty());  // nothing new
}

TEST_CASE("SUNBURST detector: a three-fragment domain seen last, first, second is not cut short") {
    // CIMBMY.CIMBDomain.com (GUID 77FF1196F3432627) in three fragments from passive DNS. Taking the first and the
    // last fragment as the whole domain would report "CIMBMY.CIom".
    Bench bench(std::make_unique<SunburstDetector>());
    const char* fragments[] = {"gl63mjuecaqvsv6v00eu4sihv504tori.appsync-api.us-east-2.avsvmcloud.com",
                               "l743rbuf8scv0161v52296bbfg5qal49.appsync-api.us-east-2.avsvmcloud.com",
                               "5rc13g6esq4cumug711e.appsync-api.us-east-2.avsvmcloud.com"};
    std::vector<Alert> alerts;
    std::uint64_t t = kT0;
    for (const int n : {2, 0, 1, 2}) {
        for (auto& a : bench.dns({query("10.9.9.9", fragments[n], t)})) alerts.push_back(a);
        t += 1800 * kSecond;
    }
    REQUIRE(alerts.size() == 2);
    CHECK(alerts[0].evidence.at("victim_domain").is_null());
    CHECK(alerts[1].status == AlertStatus::updated);
    CHECK(alerts[1].evidence.at("victim_domain") == "CIMBMY.CIMBDomain.com");

    // In order, but the middle fragment lost in the first round: shortened, then corrected by the next round.
    Bench lossy(std::make_unique<SunburstDetector>());
    alerts.clear();
    for (const int n : {0, 2, 0, 1, 2}) {
        for (auto& a : lossy.dns({query("10.9.9.8", fragments[n], t)})) alerts.push_back(a);
        t += 1800 * kSecond;
    }
    REQUIRE(alerts.size() == 3);
    CHECK(alerts[1].evidence.at("victim_domain") == "CIMBMY.CIom");
    CHECK(alerts[2].status == AlertStatus::updated);
    CHECK(alerts[2].evidence.at("victim_domain") == "CIMBMY.CIMBDomain.com");
}

TEST_CASE("beacon detector: a burst of page loads is not a schedule; a fast beacon that keeps going is") {
    Bench bench(std::make_unique<BeaconDetector>(immediate()));
    std::vector<FlowRecord> records;
    for (int i = 0; i < 12; ++i) {  // twelve connections 2 s apart: one page and its assets
        records.push_back(
            outbound("10.0.0.5", "198.51.100.50", 443, kT0 + static_cast<std::uint64_t>(i) * 2 * kSecond));
        records.back().src_port = static_cast<std::uint16_t>(40000 + i);
    }
    for (int i = 0; i < 300; ++i) {  // a 2 s beacon for ten minutes
        records.push_back(
            outbound("10.0.0.6", "198.51.100.51", 443, kT0 + static_cast<std::uint64_t>(i) * 2 * kSecond));
        records.back().src_port = static_cast<std::uint16_t>(41000 + i);
    }
    std::sort(records.begin(), records.end(),
              [](const auto& a, const auto& b) { return a.time_flow_start_ns < b.time_flow_start_ns; });
    auto alerts = bench.flows(records);
    for (auto& a : bench.finish()) alerts.push_back(a);
    REQUIRE(alerts.size() == 1);
    CHECK(alerts[0].dst_addr.to_string() == "198.51.100.51");
    CHECK(alerts[0].last_seen_ns - alerts[0].first_seen_ns >= 300 * kSecond);
}

TEST_CASE("beacon series: a reported beacon says it goes on once a minute of event time, not at every event") {
    BeaconSeries series(immediate(), true);
    const SeriesKey key{*IpAddress::parse("10.0.0.6"), *IpAddress::parse("198.51.100.51"), 0, 0, 443};
    std::vector<std::uint64_t> reported;
    std::vector<std::uint64_t> continuing;
    for (int i = 0; i < 1200; ++i) {  // a 2 s beacon for 40 minutes
        const std::uint64_t t = kT0 + static_cast<std::uint64_t>(i) * 2 * kSecond;
        if (auto f = series.record(key, t, 1200)) (f->continuing ? continuing : reported).push_back(f->last_ns);
    }
    REQUIRE(reported.size() == 1);
    // Reported after its first ~5 minutes; then once a minute, not 30 times a minute.
    const auto minutes_left = (kT0 + 1199 * 2 * kSecond - reported[0]) / (60 * kSecond);
    CHECK(continuing.size() == minutes_left);
    std::uint64_t previous = reported[0];
    for (const auto t : continuing) {
        CHECK(t - previous == 60 * kSecond);
        previous = t;
    }
}

TEST_CASE("beacon detector: a fast beacon that goes on is passed on as `ongoing` every 10 minutes") {
    Bench bench(std::make_unique<BeaconDetector>(immediate()));
    std::vector<FlowRecord> records;
    for (int i = 0; i < 1800; ++i) {  // a 2 s beacon for an hour
        records.push_back(
            outbound("10.0.0.6", "198.51.100.51", 443, kT0 + static_cast<std::uint64_t>(i) * 2 * kSecond));
        records.back().src_port = static_cast<std::uint16_t>(40000 + i);
    }
    bench.detector->on_flows(FlowBatchView{records, bench.context}, bench.out);
    const auto alerts = bench.take_all();
    REQUIRE(alerts.size() >= 2);
    CHECK(alerts[0].status == AlertStatus::open);
    std::uint64_t previous = alerts[0].last_seen_ns;
    for (std::size_t i = 1; i < alerts.size(); ++i) {
        CHECK(alerts[i].status == AlertStatus::ongoing);
        CHECK(alerts[i].id == alerts[0].id);
        CHECK(alerts[i].last_seen_ns - previous >= AlertOut::kOngoingNs);
        CHECK(alerts[i].last_seen_ns - previous <= AlertOut::kOngoingNs + 60 * kSecond);
        previous = alerts[i].last_seen_ns;
    }
    // Reported after ~5 minutes, then told to go on about every 10 of the remaining ~55.
    CHECK(alerts.size() >= 5);
}
