#include <flowguard/analyzer/analyzer.hpp>
#include <flowguard/analyzer/beacon_score.hpp>

#include <doctest/doctest.h>

#include <random>

using namespace flowguard;
using namespace flowguard::analyzer;

namespace {

std::vector<std::uint64_t> periodic(double period_s, double jitter, std::size_t n, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> j(-jitter, jitter);
    std::vector<std::uint64_t> times;
    double t = 1e9;
    for (std::size_t i = 0; i < n; ++i) {
        times.push_back(static_cast<std::uint64_t>(t * 1e9));
        t += period_s * (1 + j(rng));
    }
    return times;
}

std::vector<std::uint64_t> poisson(double mean_s, std::size_t n, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::exponential_distribution<double> gap(1.0 / mean_s);
    std::vector<std::uint64_t> times;
    double t = 1e9;
    for (std::size_t i = 0; i < n; ++i) {
        times.push_back(static_cast<std::uint64_t>(t * 1e9));
        t += gap(rng);
    }
    return times;
}

// What the alert log shows: `ongoing` alerts only tell the finding ledger a finding goes on.
void drop_ongoing(std::vector<Alert>& alerts) {
    std::erase_if(alerts, [](const Alert& a) { return a.status == AlertStatus::ongoing; });
}

Analyzer make_analyzer(AnalyzerConfig config = {}) {
    PublicSuffixList psl = PublicSuffixList::fallback();
    psl.add_rule("com");
    psl.add_rule("co.uk");
    return Analyzer(config, NetworkSet::private_networks(), std::move(psl), IocList::sunburst());
}

FlowRecord outbound(const char* src, const char* dst, std::uint16_t dport, std::uint64_t t, std::uint64_t bytes) {
    FlowRecord r;
    r.src_addr = *IpAddress::parse(src);
    r.dst_addr = *IpAddress::parse(dst);
    // A whole short connection: an ephemeral port of its own, SYN to FIN (a record of the same 5-tuple without a
    // SYN would continue an earlier connection, as a keep-alive does).
    r.src_port = static_cast<std::uint16_t>(32768 + (t / 1'000'000'000ull) % 28000);
    r.tcp_flags = 0x1b;
    r.dst_port = dport;
    r.proto = 6;
    r.bytes = bytes;
    r.time_flow_start_ns = t;
    return r;
}

DnsEvent query(const char* client, const char* server, const std::string& name, std::uint64_t t) {
    DnsEvent e;
    e.client = *IpAddress::parse(client);
    e.server = *IpAddress::parse(server);
    e.qname.assign(name);
    e.time_ns = t;
    return e;
}

}  // namespace

TEST_CASE("beacon scores: jittered periods score high at every scale, Poisson arrivals do not") {
    for (double period : {5.0, 60.0, 900.0, 5400.0}) {
        for (double jitter : {0.0, 0.25, 0.5}) {
            for (std::uint32_t seed = 1; seed <= 5; ++seed) {
                CAPTURE(period);
                CAPTURE(jitter);
                const auto times = periodic(period, jitter, 40, seed);
                const auto s = score_beacon(times, {});
                CHECK(s.score >= 0.82);
                CHECK(s.dispersion_score >= 0.55);
                CHECK(s.median_interval_s == doctest::Approx(period).epsilon(0.2));
            }
        }
    }
    int passed = 0;
    for (std::uint32_t seed = 1; seed <= 50; ++seed) {
        const auto s = score_beacon(poisson(300, 40, seed), {});
        if (s.score >= 0.82 && s.dispersion_score >= 0.55) ++passed;
    }
    CHECK(passed <= 1);
}

TEST_CASE("a near-constant period with a lopsided pattern of jitter (61, 61, 58 s ...) is still a beacon") {
    std::vector<std::uint64_t> times;
    for (int i = 0; i < 20; ++i)
        times.push_back(static_cast<std::uint64_t>(1'700'000'000 + 60 * i + (i % 3) - 1) * 1'000'000'000ull);
    const auto s = score_beacon(times, {});
    CHECK(s.skew_score == doctest::Approx(1.0));  // the middle half spans 3 s of 61: no meaningful skew
    CHECK(s.score >= 0.82);
}

TEST_CASE("a sparse schedule with strong jitter is regular, not skewed; random arrivals and bursts are not") {
    // 14 check-ins of a 2 h implant with up to 45% jitter: Bowley skewness of 13 intervals is noisy, but every
    // interval lies within half a median of the median.
    double sparse_regular = 0;
    int sparse_passed = 0;
    for (std::uint32_t seed = 1; seed <= 50; ++seed) {
        const auto s = score_beacon(periodic(7200, 0.45, 14, seed), {});
        sparse_regular += s.regular_share / 50;
        CHECK(s.skew_score >= s.regular_share);
        if (s.score >= 0.82 && s.dispersion_score >= 0.55) ++sparse_passed;
    }
    CHECK(sparse_regular >= 0.9);
    CHECK(sparse_passed >= 45);
    double random_regular = 0;
    for (std::uint32_t seed = 1; seed <= 50; ++seed)
        random_regular += score_beacon(poisson(7200, 14, seed), {}).regular_share / 50;
    CHECK(random_regular <= 0.6);
    std::vector<std::uint64_t> bursts;  // page loads: a few seconds apart, then an hour's pause
    for (int burst = 0; burst < 3; ++burst)
        for (int i = 0; i < 5; ++i)
            bursts.push_back(static_cast<std::uint64_t>(1'700'000'000 + 3600 * burst + 4 * i + i % 2) *
                             1'000'000'000ull);
    CHECK(score_beacon(bursts, {}).regular_share <= 0.9);
}

TEST_CASE("regular share: the best band of one period with 50% jitter, not the band around a low median") {
    // A 2.3 h implant with 47% jitter whose 10 intervals happened to come out mostly short: the median (1.6 h)
    // sits low, and a band around it would leave the 3 h intervals out, though one period explains them all.
    std::vector<std::uint64_t> times{1'700'000'000ull * 1'000'000'000ull};
    for (double gap : {5121.0, 5527.0, 5998.0, 10850.0, 5870.0, 8431.0, 5356.0, 11085.0, 5193.0, 7944.0})
        times.push_back(times.back() + static_cast<std::uint64_t>(gap * 1e9));
    const auto s = score_beacon(times, {});
    CHECK(s.median_interval_s < 6000);
    CHECK(s.regular_share == doctest::Approx(1.0));
    CHECK(s.skew_score == doctest::Approx(1.0));
    // One interval three times the shortest and a bit is outside every band with the rest.
    times.push_back(times.back() + 16'000ull * 1'000'000'000ull);
    CHECK(score_beacon(times, {}).regular_share == doctest::Approx(10.0 / 11.0));
}

TEST_CASE("registered domains follow the Public Suffix List rules") {
    PublicSuffixList psl = PublicSuffixList::fallback();
    for (const char* rule : {"com", "uk", "co.uk", "*.ck", "!www.ck", "appspot.com"}) psl.add_rule(rule);
    CHECK(psl.registered_domain("x1.appsync-api.us-west-2.avsvmcloud.com") == "avsvmcloud.com");
    CHECK(psl.registered_domain("a.b.example.co.uk.") == "example.co.uk");
    CHECK(psl.registered_domain("WWW.Example.COM") == "example.com");
    CHECK(psl.registered_domain("a.b.c.ck") == "b.c.ck");
    CHECK(psl.registered_domain("www.ck") == "www.ck");
    CHECK(psl.registered_domain("my.app.appspot.com") == "app.appspot.com");
    CHECK(psl.registered_domain("host.unknowntld") == "host.unknowntld");
    CHECK(psl.registered_domain("com") == "com");
}

TEST_CASE("lexical scores: generated labels score high, words low; distinct counter within 10%") {
    CHECK(lexical_score("02m6hcopd17p6h450gt3.appsync-api.us-west-2").score > 0.5);
    CHECK(lexical_score("7cbtailjomqle1pjvr2d32i2voe60ce2").score > 0.6);
    CHECK(lexical_score("www").score < 0.3);
    CHECK(lexical_score("mail").score < 0.3);
    CHECK(lexical_score("outlook").score < 0.3);
    CHECK(lexical_score("login.microsoftonline").bigram_log2 > -4.5);  // words: likely letter pairs
    CHECK(lexical_score("qwhxkzvbnmtrplkj").bigram_log2 < -5.0);       // generated: unlikely ones
    DistinctCounter counter;
    for (int i = 0; i < 1000; ++i) {
        counter.add(hash_name("name" + std::to_string(i)));
        counter.add(hash_name("name" + std::to_string(i)));  // repeats do not count
    }
    CHECK(counter.estimate() == doctest::Approx(1000).epsilon(0.1));
}

TEST_CASE("indicators: parent-domain match, defanged entries, addresses; bad lines are named") {
    auto iocs = IocList::sunburst();
    CHECK(iocs.match_name("abc.appsync-api.us-east-1.avsvmcloud.com.")->indicator == "avsvmcloud.com");
    CHECK(iocs.match_name("freescanonline.com").has_value());
    CHECK_FALSE(iocs.match_name("notavsvmcloud.com").has_value());
    CHECK(iocs.match_address(*IpAddress::parse("13.59.205.66")).has_value());
    iocs.add("evil[.]example", "user");
    CHECK(iocs.match_name("x.evil.example")->source == "user");
    CHECK_THROWS_WITH_AS(iocs.add("not a domain", "user"), doctest::Contains("neither"), std::runtime_error);
}

TEST_CASE("a periodic outbound connection is one beacon alert with evidence; NTP and answers are not scored") {
    auto engine = make_analyzer();
    std::vector<Alert> alerts;
    for (const auto t : periodic(60, 0.3, 30, 7)) {
        engine.on_flow(outbound("10.0.0.5", "198.51.100.7", 443, t, 1200), alerts);
        engine.on_flow(outbound("10.0.0.5", "198.51.100.8", 123, t, 76), alerts);  // NTP: allow-listed port
        auto answer = outbound("198.51.100.7", "10.0.0.5", 50000, t, 4000);        // one-way record of the answer
        answer.src_port = 443;
        engine.on_flow(answer, alerts);
    }
    engine.finish(alerts);
    drop_ongoing(alerts);
    REQUIRE(alerts.size() == 1);
    CHECK(alerts[0].kind == "beacon");
    CHECK(alerts[0].src_addr.to_string() == "10.0.0.5");
    CHECK(alerts[0].dst_addr.to_string() == "198.51.100.7");
    CHECK(alerts[0].evidence.at("median_interval_s").as_double() == doctest::Approx(60).epsilon(0.2));
    CHECK(alerts[0].techniques.front() == "T1071.001");
}

TEST_CASE("sFlow packet samples: a connection's burst of sampled packets counts once in its series") {
    // Each connection of a 60 s beacon shows up as 6 sampled packets within 300 ms. Counted per packet, the
    // intervals would be mostly near zero; counted per burst they are the beacon's period.
    for (const auto type : {FlowType::sflow5, FlowType::netflow_v9}) {
        CAPTURE(static_cast<int>(type));
        auto engine = make_analyzer();
        std::vector<Alert> alerts;
        for (const auto t : periodic(60, 0.3, 30, 11)) {
            for (std::uint64_t i = 0; i < 6; ++i) {
                auto r = outbound("10.0.0.5", "198.51.100.7", 443, t + i * 50'000'000ull, 1500);
                r.type = type;
                if (type == FlowType::sflow5) {  // packets of one connection: its ports, SYN on the first only
                    r.src_port = outbound("10.0.0.5", "198.51.100.7", 443, t, 1500).src_port;
                    r.tcp_flags = i == 0 ? 0x02 : 0x10;
                } else {  // six short connections
                    r.src_port = static_cast<std::uint16_t>(r.src_port + i);
                }
                engine.on_flow(r, alerts);
            }
        }
        engine.finish(alerts);
        drop_ongoing(alerts);
        // NetFlow records are flows: six records 50 ms apart are six connections, not a 60 s beacon.
        CHECK(alerts.size() == (type == FlowType::sflow5 ? 1u : 0u));
    }
}

TEST_CASE("DNS beacons count per client and registered domain, never for the resolver, and not when popular") {
    auto engine = make_analyzer();
    std::vector<Alert> alerts;
    std::mt19937 rng(3);
    const char* alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
    DnsEvent answer = query("10.0.0.9", "10.0.0.53", "www.example.com", 1'000'000'000);
    answer.response = true;
    engine.on_dns(answer, alerts);  // 10.0.0.53 answers an internal client: it is a resolver
    std::size_t i = 0;
    for (const auto t : periodic(2700, 0.5, 40, 11)) {
        std::string label;
        for (int c = 0; c < 24; ++c) label += alphabet[rng() % 36];
        engine.on_dns(query("10.0.0.20", "10.0.0.53", label + ".lookalikecloud.com", t), alerts);
        engine.on_dns(query("10.0.0.53", "9.9.9.9", label + ".lookalikecloud.com", t + 1000), alerts);  // forwarded
        // Five clients polling one shared service name on a schedule: a service.
        for (int client = 0; client < 5; ++client) {
            const std::string ip = "10.0.1." + std::to_string(client + 1);
            engine.on_dns(query(ip.c_str(), "10.0.0.53", "api.sharedservice.com", t + 5'000'000'000ull * client),
                          alerts);
        }
        ++i;
    }
    engine.finish(alerts);
    drop_ongoing(alerts);
    bool dns_beacon = false, dga = false;
    for (const auto& a : alerts) {
        CHECK(a.src_addr.to_string() == "10.0.0.20");
        CHECK(a.domain == "lookalikecloud.com");
        dns_beacon |= a.kind == "dns_beacon";
        dga |= a.kind == "dga_domain";
    }
    CHECK(dns_beacon);
    CHECK(dga);
    CHECK(engine.stats().suppressed_popular >= 1);
}

TEST_CASE("a flood of unique pairs keeps the series table at its cap") {
    AnalyzerConfig config;
    config.beacon.max_series = 1000;
    auto engine = make_analyzer(config);
    std::vector<Alert> alerts;
    for (std::uint32_t n = 0; n < 20000; ++n) {
        const auto dst = IpAddress::from_v4(0xC6336400u + n);
        FlowRecord r = outbound("10.0.0.5", "198.51.100.1", 443, 1'000'000'000ull + n * 1'000'000ull, 100);
        r.dst_addr = dst;
        engine.on_flow(r, alerts);
    }
    CHECK(engine.stats().pairs <= 1000);
    CHECK(engine.stats().pair_evictions >= 19000);
}

TEST_CASE("alerts decided at the end of input come out in first-seen order, whatever the hash layout") {
    // Irregular sizes keep each series under the threshold when it is scored at 10 connections; three more
    // of one size tip it over, and only the end of input scores it again (13 < 10 + 4).
    const std::uint64_t sizes[] = {4644, 3809, 3893, 1695, 4978, 1783, 482, 280, 1818, 1425, 1000, 1000, 1000};
    auto engine = make_analyzer();
    std::vector<Alert> alerts;
    constexpr int kSeries = 6;
    for (int event = 0; event < 13; ++event) {
        for (int s = kSeries - 1; s >= 0; --s) {  // fed newest-first, so arrival order is not first-seen order
            const std::string dst = "198.51.100." + std::to_string(10 + s);
            const std::uint64_t start = 1'700'000'000'000'000'000ull + static_cast<std::uint64_t>(s) * 7'000'000'000ull;
            engine.on_flow(outbound("10.0.0.5", dst.c_str(), 443, start + event * 60'000'000'000ull, sizes[event]),
                           alerts);
        }
    }
    REQUIRE(alerts.empty());
    engine.finish(alerts);
    drop_ongoing(alerts);
    REQUIRE(alerts.size() == kSeries);
    for (int s = 0; s < kSeries; ++s) {
        CAPTURE(s);
        CHECK(alerts[s].dst_addr.to_string() == "198.51.100." + std::to_string(10 + s));
    }
}
