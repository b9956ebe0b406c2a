// The lateral-movement stage alone, through the Stage interface: learning, each detection, the alert budget,
// the graph's bounds and its saved form.
#include <flowguard/analyzer/config.hpp>
#include <flowguard/analyzer/lateral_stage.hpp>

#include <boost/json.hpp>
#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

using namespace flowguard;
using namespace flowguard::analyzer;

namespace {

constexpr std::uint32_t kT0 = 1'709'251'200;  // 2024-03-01T00:00:00Z
constexpr std::uint32_t kHour = 3600;
constexpr std::uint32_t kDay = 86'400;

FlowRecord flow(const char* src, const char* dst, int sport, int dport, double t, std::uint64_t bytes = 1000,
                std::uint8_t proto = 6) {
    FlowRecord r;
    r.src_addr = *IpAddress::parse(src);
    r.dst_addr = *IpAddress::parse(dst);
    r.src_port = static_cast<std::uint16_t>(sport);
    r.dst_port = static_cast<std::uint16_t>(dport);
    r.proto = proto;
    r.bytes = bytes;
    r.packets = 1;
    r.time_flow_start_ns = static_cast<std::uint64_t>(t * 1e9);
    r.time_flow_end_ns = r.time_flow_start_ns + 1'000'000;
    return r;
}

LateralConfig config_with(const std::string& yaml = "") {
    LateralConfig c;
    c.learning_ns = std::uint64_t{kDay} * kSecondNs;
    if (!yaml.empty()) read_lateral_config(YAML::Load(yaml), "analyzer.lateral", c);
    return c;
}

// feed() returns the alerts a batch let out (findings whose hold has passed); finish() every alert of the run.
struct Bench {
    explicit Bench(const LateralConfig& c = config_with()) : stage(c, NetworkSet::private_networks()) {}
    Alerts feed(const std::vector<FlowRecord>& records) {
        Alerts alerts;
        stage.on_flows(records, 0, alerts);
        all.insert(all.end(), alerts.begin(), alerts.end());
        return alerts;
    }
    Alerts feed(const FlowRecord& r) { return feed(std::vector<FlowRecord>{r}); }
    Alerts finish() {
        stage.finish(all);
        return all;
    }
    LateralStage stage;
    Alerts all;
};

// A small domain's day: 2 DCs answering Kerberos/LDAP to 20 workstations in 10.1.1.0/24, a file server,
// an admin RDPing to 4 servers, the NMS polling every server over WMI.
void background_day(Bench& b, std::uint32_t day) {
    const double base = kT0 + double(day) * kDay;
    std::vector<FlowRecord> rs;
    for (int w = 0; w < 20; ++w) {
        const auto ws = "10.1.1." + std::to_string(10 + w);
        const double t = base + 8 * kHour + w * 60;
        rs.push_back(flow(ws.c_str(), w % 2 ? "10.0.0.10" : "10.0.0.11", 50000 + w, 88, t));
        rs.push_back(flow(ws.c_str(), w % 2 ? "10.0.0.10" : "10.0.0.11", 50100 + w, 389, t + 1));
        rs.push_back(flow(ws.c_str(), "10.0.1.10", 50200 + w, 445, t + 2));
    }
    for (int s = 0; s < 4; ++s) {
        const auto srv = "10.0.2." + std::to_string(10 + s);
        rs.push_back(flow("10.0.4.10", srv.c_str(), 51000 + s, 3389, base + 9 * kHour + s * 60));
        rs.push_back(flow("10.0.3.5", srv.c_str(), 52000 + s, 135, base + 10 * kHour + s));
    }
    std::sort(rs.begin(), rs.end(),
              [](const FlowRecord& x, const FlowRecord& y) { return x.time_flow_start_ns < y.time_flow_start_ns; });
    b.feed(rs);
}

// Two days of background: the graph has learned (learning period: one day).
void learn(Bench& b) {
    for (std::uint32_t d = 0; d < 2; ++d) background_day(b, d);
}

const Alert* find_kind(const Alerts& alerts, std::string_view kind) {
    for (const auto& a : alerts)
        if (a.kind == kind) return &a;
    return nullptr;
}

}  // namespace

TEST_CASE("lateral: nothing is alerted while learning; roles are learned and shown") {
    Bench b;
    background_day(b, 0);
    CHECK(b.feed(flow("10.1.1.10", "10.0.0.10", 50000, 3389, kT0 + 20 * kHour)).empty());
    CHECK(b.finish().empty());
    const auto& g = b.stage.graph();
    CHECK((g.state(g.find(*IpAddress::parse("10.0.0.10"))).learned_roles & kRoleDomainController) != 0);
    CHECK((g.state(g.find(*IpAddress::parse("10.0.4.10"))).learned_roles & kRoleAdmin) != 0);
    CHECK(b.stage.counters().learning == 1);
}

TEST_CASE("lateral: a first RDP from a workstation to a DC after learning is one high alert with evidence") {
    Bench b;
    learn(b);
    CHECK(b.stage.counters().learning == 0);
    CHECK(b.feed(flow("10.1.1.12", "10.0.0.10", 50000, 3389, kT0 + 2 * kDay + 3 * kHour)).empty());  // held
    const auto alerts = b.finish();
    REQUIRE(alerts.size() == 1);
    const Alert& a = alerts[0];
    CHECK(a.kind == "lateral_new_edge");
    CHECK(a.severity == Severity::high);
    CHECK(a.src_addr.to_string() == "10.1.1.12");
    CHECK(a.dst_addr.to_string() == "10.0.0.10");
    CHECK(a.techniques == std::vector<std::string>{"T1021.001"});
    const auto& edges = a.evidence.at("edges").as_array();
    REQUIRE(edges.size() == 1);
    CHECK(edges[0].at("service").as_string() == "rdp");
    const auto& dc = a.evidence.at("hosts").at("10.0.0.10").at("learned_roles").as_array();
    CHECK(dc.at(0).as_string() == "domain-controller");
    CHECK(a.dedup_key == "lateral_new_edge:10.1.1.12:19785");
}

TEST_CASE("lateral: what the network already does is not alerted") {
    Bench b;
    learn(b);
    const double t = kT0 + 2 * kDay + 8 * kHour;
    // A workstation with a new address reaches the DC and the file server its subnet uses.
    CHECK(b.feed(flow("10.1.1.99", "10.0.0.10", 50000, 88, t)).empty());
    CHECK(b.feed(flow("10.1.1.99", "10.0.1.10", 50001, 445, t + 1)).empty());
    // The admin RDPs to a server of the same segment it never touched; the NMS polls a new server.
    CHECK(b.feed(flow("10.0.4.10", "10.0.2.20", 50002, 3389, t + 2)).empty());
    CHECK(b.feed(flow("10.0.3.5", "10.0.2.20", 50003, 135, t + 3)).empty());
    // Known edges again.
    CHECK(b.feed(flow("10.1.1.10", "10.0.1.10", 50004, 445, t + 4)).empty());
    CHECK(b.finish().empty());
}

TEST_CASE("lateral: answers are not requests (the server's port is the source port)") {
    Bench b;
    learn(b);
    b.feed(flow("10.0.2.10", "10.1.1.10", 3389, 50000, kT0 + 2 * kDay + kHour));
    CHECK(b.finish().empty());
    CHECK(b.stage.graph().find_edge(b.stage.graph().find(*IpAddress::parse("10.0.2.10")),
                                    b.stage.graph().find(*IpAddress::parse("10.1.1.10")), 1) == nullptr);
}

TEST_CASE("lateral: a sweep is one fan-out alert that absorbs its new edges") {
    Bench b;
    learn(b);
    std::vector<FlowRecord> rs;
    const double t = kT0 + 2 * kDay + 14 * kHour;
    for (int i = 0; i < 12; ++i) {
        const auto dst = "10.1.1." + std::to_string(100 + i);
        rs.push_back(flow("10.1.1.15", dst.c_str(), 51000 + i, 445, t + i * 10, 300));
        rs.push_back(flow("10.1.1.15", dst.c_str(), 52000 + i, 135, t + i * 10 + 1, 300));
    }
    b.feed(rs);
    const auto alerts = b.finish();
    REQUIRE(alerts.size() == 1);
    CHECK(alerts[0].kind == "lateral_fanout");
    CHECK(alerts[0].evidence.at("distinct_targets").as_uint64() == 12);
    CHECK(alerts[0].evidence.at("edges").as_array().size() >= 12);
    const auto& t_ids = alerts[0].techniques;
    CHECK(std::find(t_ids.begin(), t_ids.end(), "T1046") != t_ids.end());
    CHECK(b.stage.counters().absorbed > 0);
}

TEST_CASE("lateral: A -> B -> C within the hold is one chain alert with the path") {
    Bench b;
    learn(b);
    const double t = kT0 + 2 * kDay + 15 * kHour;
    b.feed(flow("10.1.1.11", "10.0.2.11", 50000, 5985, t));
    b.feed(flow("10.0.2.11", "10.0.2.13", 50001, 445, t + 120));
    const auto alerts = b.finish();
    REQUIRE(alerts.size() == 1);
    CHECK(alerts[0].kind == "lateral_chain");
    const auto& path = alerts[0].evidence.at("path").as_array();
    REQUIRE(path.size() == 3);
    CHECK(path[0].as_string() == "10.1.1.11");
    CHECK(path[1].as_string() == "10.0.2.11");
    CHECK(path[2].as_string() == "10.0.2.13");
}

TEST_CASE("lateral: a routine hop after a known one is no chain; a hop after the window is none either") {
    Bench b;
    learn(b);
    const double t = kT0 + 2 * kDay + 15 * kHour;
    // The admin's daily RDP (known), then the server's first SMB to another server: a new edge, no chain.
    b.feed(flow("10.0.4.10", "10.0.2.10", 50000, 3389, t));
    b.feed(flow("10.0.2.10", "10.0.2.12", 50001, 445, t + 60));
    auto alerts = b.finish();
    CHECK(find_kind(alerts, "lateral_chain") == nullptr);

    Bench late;
    learn(late);
    late.feed(flow("10.1.1.11", "10.0.2.11", 50000, 5985, t));
    late.feed(flow("10.0.2.11", "10.0.2.13", 50001, 445, t + 2 * kHour));
    alerts = late.finish();
    CHECK(find_kind(alerts, "lateral_chain") == nullptr);
    CHECK(find_kind(alerts, "lateral_new_edge") != nullptr);
}

TEST_CASE("lateral: a watched host's new internet peer and new service are alerted; its routine is not") {
    Bench b(config_with("watched_hosts: [10.0.3.5]"));
    learn(b);
    const double t = kT0 + 2 * kDay + 2 * kHour;
    CHECK(b.feed(flow("10.0.3.5", "10.0.2.30", 50000, 135, t)).empty());  // polling a new server: routine
    b.feed(flow("10.0.3.5", "203.0.113.9", 50001, 443, t + 10));
    b.feed(flow("10.0.3.5", "10.0.2.11", 50002, 445, t + 20));
    const auto alerts = b.finish();
    REQUIRE(alerts.size() == 1);
    CHECK(alerts[0].kind == "lateral_watched");
    CHECK(alerts[0].severity == Severity::high);
    CHECK(alerts[0].evidence.at("new_internet_peers").as_array().size() == 1);
    CHECK(alerts[0].evidence.at("edges").as_array().size() >= 1);

    Bench learning(config_with("watched_hosts: [10.0.3.5]"));
    learning.feed(flow("10.0.3.5", "203.0.113.9", 50001, 443, kT0 + 10));
    CHECK(learning.finish().empty());
}

TEST_CASE("lateral: DCSync shape from a non-DC is critical; between DCs and small answers it is not") {
    Bench b;
    learn(b);
    const double t = kT0 + 2 * kDay + 20 * kHour;
    b.feed(flow("10.0.0.10", "10.0.0.11", 50000, 135, t));  // replication: both DCs
    b.feed(flow("10.0.0.11", "10.0.0.10", 49700, 50010, t + 1, 50'000'000));
    b.feed(flow("10.1.1.13", "10.0.0.10", 50020, 135, t + 10));
    b.feed(flow("10.1.1.13", "10.0.0.10", 50021, 49690, t + 11, 2000));
    b.feed(flow("10.0.0.10", "10.1.1.13", 49690, 50021, t + 12, 600'000));
    CHECK(find_kind(b.feed(std::vector<FlowRecord>{}), "lateral_dcsync") == nullptr);
    b.feed(flow("10.0.0.10", "10.1.1.13", 49690, 50021, t + 13, 600'000));  // 1.2 MB in all
    const auto alerts = b.finish();
    const Alert* a = find_kind(alerts, "lateral_dcsync");
    REQUIRE(a != nullptr);
    CHECK(a->severity == Severity::critical);
    CHECK(std::find(a->techniques.begin(), a->techniques.end(), "T1003.006") != a->techniques.end());
    CHECK(a->src_addr.to_string() == "10.1.1.13");
    CHECK(a->evidence.at("answer_bytes").as_uint64() == 1'200'000);
    for (const auto& x : alerts) CHECK((x.kind != "lateral_dcsync" || x.src_addr.to_string() != "10.0.0.11"));

    Bench late;
    learn(late);  // dynamic-port answers long after the 135 contact are not RPC
    late.feed(flow("10.1.1.13", "10.0.0.10", 50020, 135, t));
    late.feed(flow("10.0.0.10", "10.1.1.13", 49690, 50021, t + 600, 5'000'000));
    CHECK(find_kind(late.finish(), "lateral_dcsync") == nullptr);
}

TEST_CASE("lateral: Kerberos volume far above the host's busiest hour, across a clock hour") {
    Bench b;
    learn(b);
    std::vector<FlowRecord> rs;
    const double t = kT0 + 2 * kDay + 10 * kHour + 2400;  // 10:40: the burst straddles 11:00
    for (int i = 0; i < 260; ++i) rs.push_back(flow("10.1.1.14", "10.0.0.10", 40000 + i, 88, t + i * 9));
    b.feed(rs);
    const auto alerts = b.finish();
    const Alert* a = find_kind(alerts, "lateral_directory");
    REQUIRE(a != nullptr);
    CHECK(a->evidence.at("hour_flows").as_uint64() >= 200);
    CHECK(std::find(a->techniques.begin(), a->techniques.end(), "T1558.003") != a->techniques.end());

    Bench calm;
    learn(calm);
    std::vector<FlowRecord> few;
    for (int i = 0; i < 150; ++i) few.push_back(flow("10.1.1.14", "10.0.0.10", 40000 + i, 88, t + i * 9));
    calm.feed(few);
    CHECK(find_kind(calm.finish(), "lateral_directory") == nullptr);
}

TEST_CASE("lateral: repeats of an open incident are folded in; an escalation is a second alert") {
    Bench b(config_with("hold: 60s"));
    learn(b);
    const double t = kT0 + 2 * kDay + 3 * kHour;
    b.feed(flow("10.1.1.12", "10.0.0.10", 50000, 3389, t));
    auto alerts = b.feed(flow("10.1.1.12", "10.0.2.10", 50001, 5985, t + 120));  // leaves the first
    REQUIRE(alerts.size() == 1);
    CHECK(alerts[0].kind == "lateral_new_edge");
    alerts = b.feed(flow("10.1.1.12", "10.0.2.11", 50002, 5985, t + 400));
    CHECK(alerts.empty());  // folded into the open incident
    // A chain from the same origin escalates.
    b.feed(flow("10.0.2.11", "10.0.2.13", 50003, 445, t + 500));
    alerts = b.finish();
    REQUIRE(alerts.size() == 2);
    CHECK(alerts[1].kind == "lateral_chain");
    CHECK(alerts[1].src_addr.to_string() == "10.1.1.12");
}

TEST_CASE("lateral: the saved graph restores learning, roles and edges (a restart does not re-learn)") {
    const auto dir = std::filesystem::temp_directory_path() / "flowguard-lateral-test";
    std::filesystem::create_directories(dir);
    const auto path = (dir / "graph.jsonl").string();
    std::string saved;
    {
        Bench b;
        learn(b);
        std::string error;
        REQUIRE(b.stage.save(path, error));
        std::ostringstream out;
        b.stage.graph().save(out);
        saved = out.str();
        CHECK(b.stage.counters().saves == 1);
    }
    auto c = config_with();
    c.state_file = path;
    Bench restarted(c);
    restarted.stage.restore();
    std::ostringstream again;
    restarted.stage.graph().save(again);
    CHECK(again.str() == saved);
    // Movement right after the restart is found: no new learning period.
    restarted.feed(flow("10.1.1.12", "10.0.0.10", 50000, 3389, kT0 + 2 * kDay + 3 * kHour));
    CHECK(restarted.stage.counters().learning == 0);
    const auto alerts = restarted.finish();  // also saves to state_file
    REQUIRE(alerts.size() == 1);
    CHECK(alerts[0].kind == "lateral_new_edge");
    CHECK(restarted.stage.counters().saves == 1);

    std::ofstream(path) << "{\"type\":\"edge\",\"src\":\"10.0.0.1\"}\n";
    Bench broken(c);
    CHECK_THROWS_WITH(broken.stage.restore(), doctest::Contains("graph.jsonl:1"));
    std::filesystem::remove_all(dir);
}

TEST_CASE("lateral: a failing save is counted and reported, not silent") {
    Bench b;
    learn(b);
    std::string error;
    CHECK_FALSE(b.stage.save("/nonexistent-dir/graph.jsonl", error));
    CHECK(error.find("nonexistent-dir") != std::string::npos);
    CHECK(b.stage.counters().save_failures == 1);
}

TEST_CASE("lateral: the graph is bounded: stalest edges evicted at max_edges, hosts capped, stale edges expire") {
    auto c = config_with("max_edges: 100\nmax_hosts: 150\nedge_ttl: 2d");
    Bench b(c);
    std::vector<FlowRecord> rs;
    for (int i = 0; i < 140; ++i) {
        const auto dst = "10.2.0." + std::to_string(i);
        rs.push_back(flow("10.1.1.1", dst.c_str(), 50000, 445, kT0 + i));
    }
    b.feed(rs);
    const auto counters = b.stage.counters();
    CHECK(counters.edges <= 100);
    CHECK(counters.edge_evictions > 0);
    CHECK(counters.hosts <= 150);
    rs.clear();
    for (int i = 0; i < 20; ++i) {
        const auto src = "10.3.0." + std::to_string(i);
        rs.push_back(flow(src.c_str(), "10.1.1.1", 50000, 445, kT0 + 200 + i));
    }
    b.feed(rs);
    CHECK(b.stage.counters().host_cap_drops > 0);
    b.feed(flow("10.3.0.1", "10.1.1.1", 50000, 445, kT0 + 5 * kDay));  // a day later: the maintenance pass
    CHECK(b.stage.counters().edges_expired > 0);
    CHECK(b.stage.counters().edges <= 2);
}

TEST_CASE("lateral: the selection forwards internal admin traffic, dynamic RPC and watched hosts only") {
    const LateralStage stage(config_with("watched_hosts: [10.0.3.5]"), NetworkSet::private_networks());
    const auto& sel = stage.selection();
    CHECK(sel.wants(flow("10.1.1.1", "10.0.0.10", 50000, 445, kT0)));
    CHECK(sel.wants(flow("10.0.0.10", "10.1.1.1", 445, 50000, kT0)));  // its answer
    CHECK(sel.wants(flow("10.1.1.1", "10.0.0.10", 50000, 49690, kT0)));
    CHECK_FALSE(sel.wants(flow("10.1.1.1", "10.0.0.10", 50000, 443, kT0)));
    CHECK_FALSE(sel.wants(flow("10.1.1.1", "198.51.100.1", 50000, 445, kT0)));
    CHECK(sel.wants(flow("10.0.3.5", "198.51.100.1", 50000, 443, kT0)));
    CHECK(sel.wants(flow("198.51.100.1", "10.0.3.5", 443, 50000, kT0)));
}

TEST_CASE("lateral config: services, groups and watched hosts are read, checked and printed back") {
    const auto c = config_with(R"(
services:
  - {name: rdp, ports: [tcp/3389], class: remote_admin, techniques: [T1021.001]}
  - {name: vnc, ports: [tcp/5900-5903]}
groups:
  domain-controllers: [10.0.0.10, 10.0.0.11]
  nms: [10.0.3.0/28]
watched_hosts: [nms, 10.9.9.9]
learning_period: 3d
)");
    REQUIRE(c.services.size() == 2);
    CHECK(c.services[1].ports[0].last == 5903);
    CHECK(c.groups[1].networks.contains(*IpAddress::parse("10.0.3.5")));
    CHECK(c.learning_ns == 3ull * 86400 * kSecondNs);
    YAML::Emitter out;
    write_lateral_config(out, c);
    LateralConfig again;
    read_lateral_config(YAML::Load(out.c_str()), "analyzer.lateral", again);
    YAML::Emitter out2;
    write_lateral_config(out2, again);
    CHECK(std::string(out.c_str()) == std::string(out2.c_str()));

    LateralStage stage(c, NetworkSet::private_networks());
    Alerts none;
    stage.on_flows(std::vector<FlowRecord>{flow("10.0.3.5", "10.0.0.10", 50000, 3389, kT0)}, 0, none);
    const auto& g = stage.graph();
    CHECK(g.state(g.find(*IpAddress::parse("10.0.0.10"))).configured_roles == kRoleDomainController);
    CHECK(g.state(g.find(*IpAddress::parse("10.0.3.5"))).configured_roles == kRoleFanOut);
    CHECK(g.state(g.find(*IpAddress::parse("10.0.3.5"))).watched);

    const auto bad = [](const std::string& yaml) { CHECK_THROWS_AS(config_with(yaml), ConfigError); };
    bad("services: [{name: x, ports: [tcp/0]}]");
    bad("services: [{name: x, ports: [sctp/22]}]");
    bad("services: [{name: x, ports: [tcp/30-20]}]");
    bad("services: [{name: x, ports: [tcp/22], class: everything}]");
    bad("services: [{name: x, ports: [tcp/22]}, {name: x, ports: [tcp/23]}]");
    bad("groups: {dcs: [not-an-address]}");
    bad("watched_hosts: [no-such-group]");
    bad("rpc_dynamic_low: 80");
    bad("new_edge_min_score: 0.8\nnew_edge_high_score: 0.5");
    bad("learning_perod: 7d");
    CHECK_THROWS_WITH(config_with("services: [{name: x, ports: [tcp/0]}]"),
                      doctest::Contains("analyzer.lateral.services[0].ports"));
}

TEST_CASE("lateral: the same records give the same alerts whatever the batches") {
    std::vector<FlowRecord> attack;
    const double t = kT0 + 2 * kDay + 14 * kHour;
    for (int i = 0; i < 12; ++i) {
        const auto dst = "10.1.1." + std::to_string(100 + i);
        attack.push_back(flow("10.1.1.15", dst.c_str(), 51000 + i, 445, t + i * 40, 300));
    }
    attack.push_back(flow("10.1.1.11", "10.0.2.11", 50000, 5985, t + 30));
    attack.push_back(flow("10.0.2.11", "10.0.2.13", 50001, 445, t + 700));
    attack.push_back(flow("10.1.1.12", "10.0.0.10", 50002, 3389, t + 900));
    std::vector<std::string> runs;
    for (std::size_t batch : {std::size_t{1}, std::size_t{4}, attack.size()}) {
        Bench b;
        learn(b);
        for (std::size_t i = 0; i < attack.size(); i += batch)
            b.feed(std::vector<FlowRecord>(
                attack.begin() + static_cast<std::ptrdiff_t>(i),
                attack.begin() + static_cast<std::ptrdiff_t>(std::min(i + batch, attack.size()))));
        std::string text;
        for (const auto& a : b.finish()) text += to_json_line(a);
        runs.push_back(text);
    }
    CHECK(runs[0].size() > 100);
    CHECK(runs[0] == runs[1]);
    CHECK(runs[0] == runs[2]);
}

TEST_CASE("lateral: records out of event-time order (exported when flows end, shards' batches) are understood") {
    const double t = kT0 + 2 * kDay + 15 * kHour;
    SUBCASE("the second hop of a chain before the first") {
        Bench b;
        learn(b);
        b.feed(flow("10.0.2.11", "10.0.2.13", 50001, 445, t + 120));
        b.feed(flow("10.1.1.11", "10.0.2.11", 50000, 5985, t));
        const auto alerts = b.finish();
        const Alert* chain = find_kind(alerts, "lateral_chain");
        REQUIRE(chain != nullptr);
        CHECK(chain->src_addr.to_string() == "10.1.1.11");
        CHECK(chain->evidence.at("path").as_array().size() == 3);
    }
    SUBCASE("a DC's replication-sized answers before the client's endpoint-mapper contact") {
        Bench b;
        learn(b);
        b.feed(flow("10.0.0.10", "10.1.1.13", 49690, 50021, t + 2, 3'000'000));
        b.feed(flow("10.1.1.13", "10.0.0.10", 50020, 135, t));
        const auto alerts = b.finish();
        const Alert* a = find_kind(alerts, "lateral_dcsync");
        REQUIRE(a != nullptr);
        CHECK(a->evidence.at("answer_bytes").as_uint64() == 3'000'000);
    }
    SUBCASE("a Kerberos burst whose records come shuffled") {
        Bench b;
        learn(b);
        std::vector<FlowRecord> rs;
        for (int i = 0; i < 260; ++i) rs.push_back(flow("10.1.1.14", "10.0.0.10", 40000 + i, 88, t + i * 9));
        std::mt19937 rng(7);
        std::shuffle(rs.begin(), rs.end(), rng);
        for (std::size_t i = 0; i < rs.size(); i += 16)
            b.feed(std::vector<FlowRecord>(rs.begin() + static_cast<std::ptrdiff_t>(i),
                                           rs.begin() + static_cast<std::ptrdiff_t>(std::min(i + 16, rs.size()))));
        CHECK(find_kind(b.finish(), "lateral_directory") != nullptr);
    }
}

TEST_CASE("lateral: a record dated in the future is dropped and counted, not allowed to end learning") {
    Bench b;
    background_day(b, 0);
    b.feed(flow("10.1.1.10", "10.0.0.10", 50000, 3389, 4'000'000'000.0));  // year 2096
    CHECK(b.stage.counters().future_drops == 1);
    CHECK(b.stage.counters().learning == 1);
    CHECK(b.stage.counters().edges_expired == 0);
}

TEST_CASE("lateral: a watched host's internet peers are remembered up to a bound, then counted") {
    Bench b(config_with("watched_hosts: [10.0.3.5]"));
    std::vector<FlowRecord> rs;
    for (std::uint32_t i = 0; i < kMaxExternalPeers + 100; ++i) {
        FlowRecord r = flow("10.0.3.5", "198.51.100.1", 50000, 443, kT0 + i / 1000.0);
        r.dst_addr = IpAddress::from_v4(0x0b000000u + (i << 8));  // a new /24 each
        rs.push_back(r);
    }
    b.feed(rs);
    CHECK(b.stage.counters().peer_cap_drops == 100);
}
