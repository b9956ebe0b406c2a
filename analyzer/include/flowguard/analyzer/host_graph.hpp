#pragma once
// The learned graph of administrative access between internal hosts: host -> host:service edges with first
// and last seen, counts and bytes; per host what it uses as a client, how many clients it serves per service,
// its configured group and learned roles (domain controller, fan-out by design, admin workstation); per
// group which destinations and groups its members reach. The lateral-movement stage reads it to score what is
// new. Memory is bounded: edges unused for edge_ttl are forgotten, and at max_edges the stalest go first
// (counted); hosts beyond max_hosts are not tracked (counted). Saved and restored as JSON lines, the format
// `flowguard graph` prints, so a reviewed export can be loaded back as a baseline.
#include <flowguard/analyzer/lateral_config.hpp>
#include <flowguard/core/flat_map_rebuild.hpp>
#include <flowguard/core/ip_address.hpp>
#include <flowguard/core/network_set.hpp>

#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace flowguard::analyzer {

using HostId = std::uint32_t;
inline constexpr HostId kNoHost = UINT32_MAX;
inline constexpr std::size_t kMaxServices = 31;

// Role bits, configured (group names with a meaning) or learned from the graph.
enum Role : std::uint8_t {
    kRoleDomainController = 1,  // serves Kerberos to several clients
    kRoleFanOut = 2,            // reaches many hosts on admin services by design: deployment, backup, scanner, NMS
    kRoleAdmin = 4,             // regular remote administration of several servers
};
std::vector<std::string> role_names(std::uint8_t roles);
std::uint8_t role_from_name(std::string_view name) noexcept;  // 0 when unknown

struct Edge {
    std::uint32_t first_s = 0;  // event time, seconds since the epoch
    std::uint32_t last_s = 0;
    std::uint32_t count = 0;  // flow records (requests) seen on it
    std::uint64_t bytes = 0;  // request bytes
};

// A recent admin contact into a host, for chains (A -> B, then B -> C).
struct Inbound {
    HostId from = kNoHost;
    std::uint32_t time_s = 0;
    std::uint8_t service = 0;
    bool novel = false;  // the edge was new (after learning) and not common
};

struct DirectoryBucket {
    std::uint32_t id = 0;  // half hours since the epoch
    std::uint32_t flows = 0;
    std::uint64_t bytes = 0;
    bool alerted = false;
};

struct HostState {
    IpAddress address;
    std::int32_t group = -1;  // configured group index
    std::uint8_t configured_roles = 0;
    std::uint8_t learned_roles = 0;
    bool watched = false;
    std::uint32_t client_services = 0;                  // bit per service it used as a client
    std::uint32_t targets = 0;                          // distinct hosts it reaches on non-directory services
    std::uint32_t admin_targets = 0;                    // distinct hosts it reaches on remote-admin services
    std::array<std::uint16_t, kMaxServices> clients{};  // distinct clients per service, as a server (saturating)
    // Fan-out: distinct hosts reached on uncommon new edges in the current window; the busiest window seen.
    std::uint32_t window_start_s = 0;
    std::uint16_t window_hosts = 0;
    std::uint16_t window_max = 0;
    bool window_alerted = false;         // the window raised a fan-out finding: not a baseline
    std::uint32_t window_services = 0;   // services of the window's edges
    std::vector<HostId> window_targets;  // the current window's hosts (evidence), at most fanout_min_hosts * 8
    // Directory volume: Kerberos/LDAP flows and answer bytes with the DCs per half hour, in a ring of the
    // last three hours indexed by time (records arrive out of order: a flow is exported when it ends, and the
    // global stage takes shards' batches as they come); a window is two adjacent half hours. The busiest
    // window of retired buckets is the baseline (an alert's buckets never become baseline).
    std::array<DirectoryBucket, 6> directory{};
    std::uint32_t max_hour_flows = 0;
    std::uint64_t max_hour_bytes = 0;
    std::array<Inbound, 4> inbound{};   // recent admin contacts into the host
    std::array<Inbound, 4> outbound{};  // recent admin contacts from it (`from` is the destination)

    std::uint8_t roles() const noexcept { return configured_roles | learned_roles; }
};

struct GraphCounters {
    std::uint64_t edges = 0;
    std::uint64_t hosts = 0;
    std::uint64_t edge_evictions = 0;  // stalest edges dropped at max_edges
    std::uint64_t edges_expired = 0;   // unused for edge_ttl
    std::uint64_t host_cap_drops = 0;  // records whose host could not be tracked (max_hosts)
    std::uint64_t peer_cap_drops = 0;  // watched hosts' internet peers not learned (kMaxExternalPeers)
};

// Internet peers (/24 or /48, port, protocol) remembered for all watched hosts together.
inline constexpr std::size_t kMaxExternalPeers = 1u << 16;

class HostGraph {
public:
    HostGraph(const LateralConfig& config, const NetworkSet& watched);

    // The host's id, created on first sight (kNoHost at max_hosts: counted).
    HostId host(const IpAddress& address);
    HostId find(const IpAddress& address) const;
    HostState& state(HostId id) { return hosts_[id]; }
    const HostState& state(HostId id) const { return hosts_[id]; }
    std::size_t host_count() const noexcept { return hosts_.size(); }

    const Edge* find_edge(HostId src, HostId dst, std::uint8_t service) const;
    // Creates or updates the edge; a new edge updates the aggregates (services used, clients served, groups).
    // Returns true when it was created.
    bool touch_edge(HostId src, HostId dst, std::uint8_t service, std::uint32_t time_s, std::uint64_t bytes);
    bool pair_known(HostId src, HostId dst) const;  // any service
    std::size_t edge_count() const noexcept { return edges_.size(); }

    // Group key: the configured group, else the learned roles, else the /24 (IPv4) or /64 (IPv6).
    std::uint32_t group_key(HostId id) const;
    // Some host of src's group already reaches dst on the service.
    bool peers_reach(HostId src, HostId dst, std::uint8_t service) const;
    // Some host of src's group already reaches some host of dst's group on the service.
    bool groups_connect(HostId src, HostId dst, std::uint8_t service) const;
    std::uint32_t service_users(std::uint8_t service) const { return service_users_[service]; }

    // Daily (event time): forgets stale edges and rebuilds the aggregates.
    void maintain(std::uint32_t now_s);
    // The aggregates again from the edges, with the roles as they are now (at the end of learning: group
    // factors no longer count what fan-out hosts reached before their role was known).
    void rebuild_aggregates();

    // Learning: the event time the graph started, and when learning ends.
    std::uint32_t started_s() const noexcept { return started_s_; }
    void start_at(std::uint32_t time_s) {
        if (started_s_ == 0) started_s_ = time_s;
    }
    bool learning(std::uint32_t now_s) const noexcept {
        return started_s_ == 0 || now_s < started_s_ + static_cast<std::uint32_t>(config_.learning_ns / kSecondNs);
    }
    // The stage's event clock: roles are learned from new edges only while it is in the learning period.
    void set_now(std::uint32_t now_s) noexcept { now_s_ = std::max(now_s_, now_s); }
    std::uint32_t now_s() const noexcept { return now_s_; }

    // Watched hosts' external destinations: (host, /24 or /48, port, proto). True when it was new.
    bool touch_external(HostId host, const IpAddress& peer, std::uint16_t port, std::uint8_t proto);

    // JSON lines: a "graph" header, "host" lines (roles, baselines), "edge" lines, "external" lines.
    void save(std::ostream& out) const;
    // Throws std::runtime_error naming the line. Merges into the current graph.
    void load(std::istream& in, const std::string& name);

    GraphCounters counters() const;
    void count_host_cap_drop() noexcept { ++host_cap_drops_; }
    const std::vector<AdminService>& services() const noexcept { return config_.services; }

private:
    static std::uint64_t edge_key(HostId src, HostId dst, std::uint8_t service) noexcept {
        return (std::uint64_t{src} << 36) | (std::uint64_t{dst} << 8) | service;
    }
    void note_new_edge(HostId src, HostId dst, std::uint8_t service);
    // Another service whose class `counts` accepts already has an edge src -> dst.
    template <class Counts>
    bool joined_by_other(HostId src, HostId dst, std::uint8_t service, Counts counts) const;
    void learn_roles(HostId id);
    void evict_stalest();

    struct External {
        HostId host;
        IpAddress peer;
        std::uint16_t port;
        std::uint8_t proto;
    };

    const LateralConfig& config_;
    NetworkSet watched_;
    std::size_t kerberos_ = kMaxServices;  // the service whose servers are domain controllers
    std::uint32_t now_s_ = 0;
    bool roles_frozen_ = false;  // while aggregates are rebuilt or a baseline is loaded
    std::vector<HostState> hosts_;
    boost::unordered_flat_map<IpAddress, HostId> ids_;
    boost::unordered_flat_map<std::uint64_t, Edge> edges_;
    ChurnCounter edge_churn_;
    boost::unordered_flat_set<std::uint64_t> peer_dst_;    // (group key of src, dst, service)
    boost::unordered_flat_set<std::uint64_t> group_pair_;  // (group key of src, group key of dst, service)
    boost::unordered_flat_set<std::uint64_t> external_;    // watched host's (prefix, port, proto)
    std::vector<External> external_list_;                  // the same, for saving
    std::array<std::uint32_t, kMaxServices> service_users_{};
    std::uint32_t started_s_ = 0;
    std::uint64_t edge_evictions_ = 0;
    std::uint64_t edges_expired_ = 0;
    std::uint64_t host_cap_drops_ = 0;
    std::uint64_t peer_cap_drops_ = 0;
};

}  // namespace flowguard::analyzer
