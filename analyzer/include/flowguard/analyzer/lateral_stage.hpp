#pragma once
// Lateral movement from flows: the stage with a global view (core/stage.hpp, GlobalStage). It sees the
// internal-to-internal records on administrative services from every shard (and watched hosts' records),
// learns the admin-service graph (host_graph.hpp) for a learning period, and then reports, through one alert
// budget (a finding waits `hold` for the findings that absorb it; one alert per origin host and incident):
//   lateral_new_edge   a new admin edge, scored by rarity for the source, its group and the network;
//   lateral_fanout     one source reaching many hosts on new, uncommon edges in a window (sweep, scan);
//   lateral_chain      A -> B then B -> C on admin services within a window, one hop new;
//   lateral_watched    a watched host (the NMS) doing anything new: an admin edge or an internet peer;
//   lateral_dcsync     a non-DC pulling replication-sized RPC answers from a DC (135, then the dynamic range);
//   lateral_directory  a host's Kerberos/LDAP volume to the DCs far above its own busiest hour.
// Event time (the records' own timestamps) is the clock, so `analyze` and the daemon agree.
#include <flowguard/analyzer/host_graph.hpp>
#include <flowguard/analyzer/lateral_config.hpp>
#include <flowguard/core/counters.hpp>
#include <flowguard/core/flat_map_rebuild.hpp>
#include <flowguard/core/metric_samples.hpp>
#include <flowguard/core/stage.hpp>

#include <boost/unordered/unordered_flat_map.hpp>

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace flowguard::analyzer {

struct LateralCounters {
    std::uint64_t flows = 0;        // records the stage examined
    std::uint64_t admin_flows = 0;  // requests on an admin service between internal hosts
    std::uint64_t new_edges = 0;    // edges first seen (learning included)
    std::uint64_t edges = 0;        // edges in the graph now
    std::uint64_t hosts = 0;        // hosts in the graph now
    std::uint64_t edge_evictions = 0;
    std::uint64_t edges_expired = 0;
    std::uint64_t host_cap_drops = 0;
    std::uint64_t findings = 0;  // findings before the budget
    std::uint64_t alerts = 0;    // alerts after it
    std::uint64_t absorbed = 0;  // findings folded into another finding or an open incident
    std::uint64_t saves = 0;
    std::uint64_t save_failures = 0;
    std::uint64_t learning = 0;      // 1 while in the learning period
    std::uint64_t future_drops = 0;  // records dated more than an hour after this host's clock
    std::uint64_t peer_cap_drops = 0;
};

inline constexpr CounterTable<LateralCounters, 16> kLateralCounters{{
    {"flows", counter_ref<&LateralCounters::flows>, Merge::sum, "flowguard_lateral_flows_total", MetricType::counter,
     "Records the lateral-movement stage examined (internal admin-service and watched-host records)."},
    {"admin_flows", counter_ref<&LateralCounters::admin_flows>, Merge::sum, "flowguard_lateral_admin_flows_total",
     MetricType::counter, "Requests on an admin service between internal hosts."},
    {"new_edges", counter_ref<&LateralCounters::new_edges>, Merge::sum, "flowguard_lateral_new_edges_total",
     MetricType::counter, "Host -> host:service edges first seen (learning period included)."},
    {"edges", counter_ref<&LateralCounters::edges>, Merge::sum, "flowguard_lateral_edges", MetricType::gauge,
     "Edges in the admin-service graph now."},
    {"hosts", counter_ref<&LateralCounters::hosts>, Merge::sum, "flowguard_lateral_hosts", MetricType::gauge,
     "Hosts in the admin-service graph now."},
    {"edge_evictions", counter_ref<&LateralCounters::edge_evictions>, Merge::sum,
     "flowguard_lateral_edge_evictions_total", MetricType::counter,
     "Stalest edges dropped because the graph reached max_edges."},
    {"edges_expired", counter_ref<&LateralCounters::edges_expired>, Merge::sum, "flowguard_lateral_edges_expired_total",
     MetricType::counter, "Edges forgotten after edge_ttl without use."},
    {"host_cap_drops", counter_ref<&LateralCounters::host_cap_drops>, Merge::sum,
     "flowguard_lateral_host_cap_drops_total", MetricType::counter,
     "Records not tracked because the graph reached max_hosts."},
    {"findings", counter_ref<&LateralCounters::findings>, Merge::sum, "flowguard_lateral_findings_total",
     MetricType::counter, "Lateral-movement findings before the alert budget."},
    {"alerts", counter_ref<&LateralCounters::alerts>},
    {"absorbed", counter_ref<&LateralCounters::absorbed>, Merge::sum, "flowguard_lateral_absorbed_total",
     MetricType::counter, "Findings folded into another finding (a chain, a sweep) or an open incident."},
    {"saves", counter_ref<&LateralCounters::saves>, Merge::sum, "flowguard_lateral_saves_total", MetricType::counter,
     "Times the graph was saved to analyzer.lateral.state_file."},
    {"save_failures", counter_ref<&LateralCounters::save_failures>, Merge::sum, "flowguard_lateral_save_failures_total",
     MetricType::counter, "Times saving the graph failed (logged with the reason)."},
    {"learning", counter_ref<&LateralCounters::learning>, Merge::max, "flowguard_lateral_learning", MetricType::gauge,
     "1 while the graph is in its learning period (no new-edge, fan-out, chain or directory alerts)."},
    {"future_drops", counter_ref<&LateralCounters::future_drops>, Merge::sum, "flowguard_lateral_future_drops_total",
     MetricType::counter,
     "Records the lateral stage dropped because they were dated more than an hour after this host's clock."},
    {"peer_cap_drops", counter_ref<&LateralCounters::peer_cap_drops>, Merge::sum,
     "flowguard_lateral_peer_cap_drops_total", MetricType::counter,
     "Watched hosts' new internet peers not remembered (nor alerted) because 65,536 are remembered already."},
}};
static_assert(sizeof(LateralCounters) == sizeof(std::uint64_t) * kLateralCounters.size());

class LateralStage final : public GlobalStage {
public:
    // `internal`: pipeline.internal_networks.
    LateralStage(const LateralConfig& config, const NetworkSet& internal);

    const ForwardSelection& selection() const override { return selection_; }
    void on_flows(std::span<const FlowRecord> records, std::uint64_t now_ns, Alerts& alerts) override;
    // Saves the graph every save_interval of event time (analyzer.lateral.state_file).
    void flush(std::uint64_t now_ns) override;
    void poll(std::uint64_t now_ns, Alerts& alerts) override;
    void finish(Alerts& alerts) override;
    void publish() override;

    // A saved graph (state file or `--baseline`): merged into the graph. Throws naming file:line.
    void load(const std::string& path);
    // Restores analyzer.lateral.state_file when it exists (a first start has none); throws when it is broken.
    void restore();
    // Writes the graph to `path` (temp file + rename). False (and the reason in `error`) when it failed.
    bool save(const std::string& path, std::string& error);

    const HostGraph& graph() const noexcept { return graph_; }
    LateralCounters counters() const;   // on the stage's thread
    LateralCounters published() const;  // from any thread
    void write_published_metrics(MetricSink& sink) const;
    static void append_metric_specs(std::vector<MetricSpec>& catalog);

private:
    enum class Kind : std::uint8_t { new_edge, fanout, directory, watched, chain, dcsync };
    struct Hop {
        HostId src;
        HostId dst;
        std::uint8_t service;
        std::uint32_t time_s;
        bool novel;
        double score;
    };
    struct Finding {
        Kind kind = Kind::new_edge;
        HostId origin = kNoHost;
        HostId target = kNoHost;
        IpAddress peer;  // an internet peer (watched hosts)
        Severity severity = Severity::medium;
        double score = 0;
        std::uint32_t first_s = 0;
        std::uint32_t last_s = 0;
        std::uint32_t held_since_s = 0;
        std::vector<Hop> hops;
        std::vector<std::string> techniques;
        boost::json::object details;  // kind-specific evidence
        std::uint32_t absorbed = 0;
    };
    struct Incident {
        std::uint32_t until_s = 0;
        Kind kind = Kind::new_edge;
        Severity severity = Severity::low;
    };
    struct RpcSession {
        std::uint32_t contact_s = 0;  // the endpoint-mapper contact that opened it
        std::uint32_t last_s = 0;
        std::uint64_t answer_bytes = 0;
        bool reported = false;
    };

    void on_record(const FlowRecord& r, Alerts& alerts);
    void on_request(HostId src, HostId dst, std::uint8_t service, std::uint32_t t, const FlowRecord& r);
    void on_answer(const FlowRecord& r, std::uint8_t service, std::uint32_t t);
    void on_dynamic(const FlowRecord& r, std::uint32_t t);
    void on_external(const FlowRecord& r, std::uint32_t t);
    void check_dcsync(HostId client, HostId server, RpcSession& session, std::uint32_t t);
    double edge_score(HostId src, HostId dst, std::uint8_t service) const;
    void count_fanout(HostId src, HostId dst, std::uint8_t service, std::uint32_t t);
    bool uncommon(HostId dst, std::uint8_t service) const;
    void note_hop(HostId src, HostId dst, std::uint8_t service, std::uint32_t t, bool novel, bool carries, double score,
                  bool learning);
    void remember(std::array<Inbound, 4>& slots, HostId peer, std::uint8_t service, std::uint32_t t, bool flag);
    void report_chain(HostId a, HostId b, HostId c, std::uint8_t first_service, std::uint8_t second_service,
                      std::uint32_t first_s, std::uint32_t second_s, double score);
    void count_directory(HostId client, std::uint32_t t, std::uint64_t flows, std::uint64_t bytes);
    void report(Finding f);
    void emit_due(std::uint32_t now_s, bool all, Alerts& alerts);
    Alert to_alert(const Finding& f) const;
    void maintain(std::uint32_t t);
    int service_of(std::uint8_t proto, std::uint16_t port) const noexcept;
    static std::uint64_t pair_key(HostId a, HostId b) noexcept { return (std::uint64_t{a} << 32) | b; }

    LateralConfig config_;
    NetworkSet internal_;
    ForwardSelection selection_;
    HostGraph graph_;
    std::array<std::array<std::uint8_t, 65536>, 2> service_by_port_{};  // [tcp, udp][port] -> service + 1
    std::size_t rpc_service_ = kMaxServices;
    std::uint32_t now_s_ = 0;
    std::uint32_t last_maintain_s_ = 0;
    std::uint32_t last_save_s_ = 0;
    bool learned_ = false;  // the learning period has ended (the aggregates were rebuilt with the roles)
    boost::unordered_flat_map<std::uint64_t, RpcSession> rpc_;  // (client, server): last 135 or dynamic contact
    struct Orphan {
        std::uint32_t first_s = 0;
        std::uint32_t last_s = 0;
        std::uint64_t bytes = 0;
    };
    boost::unordered_flat_map<std::uint64_t, Orphan> orphans_;  // (src, dst) dynamic-port traffic before its 135
    ChurnCounter rpc_churn_;
    ChurnCounter orphan_churn_;
    boost::unordered_flat_map<HostId, Finding> pending_;
    boost::unordered_flat_map<HostId, Incident> incidents_;
    std::uint64_t wall_at_last_record_ns_ = 0;
    std::uint32_t latest_believable_s_ = UINT32_MAX;  // live: the hold runs on while no record arrives
    LateralCounters counters_;
    mutable std::mutex published_mutex_;
    LateralCounters published_;
};

}  // namespace flowguard::analyzer
