#include "rounding.hpp"

#include <flowguard/analyzer/lateral_stage.hpp>
#include <flowguard/core/clock.hpp>
#include <flowguard/core/state_file.hpp>
#include <flowguard/core/time_format.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <tuple>

namespace flowguard::analyzer {
namespace {

constexpr std::uint32_t kDay = 86'400;
constexpr std::size_t kMaxHops = 64;           // evidence of one finding
constexpr double kNovelScore = 0.2;            // a new edge at least this rare counts as a chain's new hop
constexpr std::uint16_t kUncommonClients = 5;  // a destination with fewer clients for the service is uncommon
constexpr std::uint32_t kRareHopCount = 3;
constexpr std::size_t kMaxOrphans = 1u << 16;  // dynamic-port pairs waiting for their endpoint-mapper contact     // a
                                               // known edge used at most this often can carry a chain on

std::string_view kind_name(int kind) {
    constexpr std::string_view names[] = {"lateral_new_edge", "lateral_fanout", "lateral_directory",
                                          "lateral_watched",  "lateral_chain",  "lateral_dcsync"};
    return names[kind];
}

std::uint32_t event_seconds(const FlowRecord& r) {
    const std::uint64_t ns = r.time_flow_start_ns != 0 ? r.time_flow_start_ns : r.time_received_ns;
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(ns / kSecondNs, UINT32_MAX));
}

void add_techniques(std::vector<std::string>& to, const std::vector<std::string>& from) {
    for (const auto& t : from)
        if (std::find(to.begin(), to.end(), t) == to.end()) to.push_back(t);
}

NetworkSet watched_networks(const LateralConfig& config) {
    NetworkSet out;
    for (const auto& w : config.watched_hosts) {
        bool group = false;
        for (const auto& g : config.groups) {
            if (g.name != w) continue;
            group = true;
            for (const auto& m : g.members) out.add(m);
        }
        if (!group) out.add(w);
    }
    return out;
}

}  // namespace

LateralStage::LateralStage(const LateralConfig& config, const NetworkSet& internal)
    : config_(config), internal_(internal), graph_(config_, watched_networks(config_)) {
    for (std::size_t s = 0; s < config_.services.size(); ++s) {
        for (const auto& range : config_.services[s].ports) {
            auto& table = service_by_port_[range.proto == 17 ? 1 : 0];
            for (unsigned p = range.first; p <= range.last; ++p)
                if (table[p] == 0) table[p] = static_cast<std::uint8_t>(s + 1);
            for (unsigned p = range.first; p <= range.last; ++p) selection_.ports.set(p);
        }
        if (config_.services[s].name == "rpc") rpc_service_ = s;
    }
    selection_.internal = internal_;
    selection_.watched = watched_networks(config_);
    selection_.dynamic_low_port = rpc_service_ < kMaxServices ? config_.rpc_dynamic_low : 0;
}

int LateralStage::service_of(std::uint8_t proto, std::uint16_t port) const noexcept {
    if (proto != 6 && proto != 17) return -1;
    return static_cast<int>(service_by_port_[proto == 17 ? 1 : 0][port]) - 1;
}

void LateralStage::on_flows(std::span<const FlowRecord> records, std::uint64_t now_ns, Alerts& alerts) {
    (void)now_ns;
    wall_at_last_record_ns_ = wall_clock_ns();
    // One record dated in the future (a skewed or hostile exporter clock) would end learning, expire every
    // edge and release every held finding at once: records more than an hour ahead of this host's clock are
    // dropped and counted.
    latest_believable_s_ =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(wall_at_last_record_ns_ / kSecondNs + 3600, UINT32_MAX));
    for (const auto& r : records) on_record(r, alerts);
    counters_.flows += records.size();
}

void LateralStage::on_record(const FlowRecord& r, Alerts& alerts) {
    const std::uint32_t t = event_seconds(r);
    if (t == 0) return;
    if (t > latest_believable_s_) {
        ++counters_.future_drops;
        return;
    }
    graph_.start_at(t);
    if (t > now_s_) {
        // Findings leave when the records' clock passes their hold: the same alerts whatever the batches.
        if (!pending_.empty()) emit_due(t, false, alerts);
        now_s_ = t;
        graph_.set_now(t);
        if (now_s_ >= last_maintain_s_ + kDay) maintain(now_s_);
        if (learned_ == false && !graph_.learning(now_s_)) {
            learned_ = true;
            graph_.rebuild_aggregates();
        }
    }
    const bool src_internal = internal_.contains(r.src_addr);
    const bool dst_internal = internal_.contains(r.dst_addr);
    if (src_internal && !dst_internal) {
        on_external(r, t);
        return;
    }
    if (!src_internal || !dst_internal) return;
    const int request = service_of(r.proto, r.dst_port);
    const int answer = service_of(r.proto, r.src_port);
    if (request >= 0 && (answer < 0 || r.dst_port <= r.src_port)) {
        const HostId src = graph_.host(r.src_addr);
        const HostId dst = graph_.host(r.dst_addr);
        if (src != kNoHost && dst != kNoHost && src != dst)
            on_request(src, dst, static_cast<std::uint8_t>(request), t, r);
    } else if (answer >= 0) {
        on_answer(r, static_cast<std::uint8_t>(answer), t);
    } else if (rpc_service_ < kMaxServices && r.src_port >= config_.rpc_dynamic_low &&
               r.dst_port >= config_.rpc_dynamic_low) {
        on_dynamic(r, t);
    }
}

void LateralStage::on_request(HostId src, HostId dst, std::uint8_t service, std::uint32_t t, const FlowRecord& r) {
    ++counters_.admin_flows;
    const AdminService& svc = config_.services[service];
    if (service == rpc_service_) {
        const auto follow = static_cast<std::uint32_t>(config_.rpc_follow_ns / kSecondNs);
        auto& session = rpc_[pair_key(src, dst)];
        if (t > session.last_s + follow) session = {};  // a new conversation
        if (session.contact_s == 0 || t < session.contact_s) session.contact_s = t;
        session.last_s = std::max(session.last_s, t);
        // Dynamic-port traffic of the pair seen before this contact (out of order) belongs to it.
        if (auto it = orphans_.find(pair_key(dst, src));
            it != orphans_.end() && it->second.first_s + follow >= t && it->second.last_s <= t + 3600) {
            session.answer_bytes += it->second.bytes;
            session.last_s = std::max(session.last_s, it->second.last_s);
            orphans_.erase(it);
            check_dcsync(src, dst, session, t);
        }
        orphans_.erase(pair_key(src, dst));
    }
    if (svc.service_class == ServiceClass::directory && (graph_.state(dst).roles() & kRoleDomainController) != 0)
        count_directory(src, t, 1, 0);
    const bool learning = graph_.learning(t);
    if (const Edge* edge = graph_.find_edge(src, dst, service)) {
        // A routine hop (DC replication, the backup's nightly SMB, a user's share on the busy file server) after
        // a new one into the host is no chain.
        const bool carries = edge->count <= kRareHopCount && uncommon(dst, service);
        graph_.touch_edge(src, dst, service, t, r.bytes);
        note_hop(src, dst, service, t, false, carries, 0, learning);
        return;
    }
    // Scored before the edge joins the aggregates it is measured against.
    const double score = edge_score(src, dst, service);
    const bool first_use = (graph_.state(src).client_services & (1u << service)) == 0;
    graph_.touch_edge(src, dst, service, t, r.bytes);
    ++counters_.new_edges;
    count_fanout(src, dst, service, t);
    const bool novel = !learning && score >= kNovelScore;
    const bool carries = novel || uncommon(dst, service);
    if (learning) {
        note_hop(src, dst, service, t, novel, carries, score, learning);
        return;
    }
    const HostState& s = graph_.state(src);
    const HostState& d = graph_.state(dst);
    const bool to_dc_remote = (d.roles() & kRoleDomainController) != 0 &&
                              svc.service_class == ServiceClass::remote_admin && (s.roles() & kRoleAdmin) == 0;
    // A watched host is held to a lower bar: anything beyond its baseline (a service it never used, an
    // uncommon destination), not the NMS polling a workstation's new address.
    if (score >= config_.new_edge_min_score || (s.watched && (novel || first_use))) {
        Finding f;
        f.kind = s.watched ? Kind::watched : Kind::new_edge;
        f.origin = src;
        f.target = dst;
        f.score = score;
        f.severity =
            score >= config_.new_edge_high_score || to_dc_remote || s.watched ? Severity::high : Severity::medium;
        f.first_s = f.last_s = t;
        f.hops.push_back({src, dst, service, t, true, score});
        f.techniques = svc.techniques;
        report(std::move(f));
    }
    note_hop(src, dst, service, t, novel, carries, score, learning);  // after: a chain absorbs the edge's finding
}

bool LateralStage::uncommon(HostId dst, std::uint8_t service) const {
    return graph_.state(dst).clients[service] <= kUncommonClients;
}

// Chains from either end: records arrive out of event-time order (flows are exported when they end, shards
// hand over batches as they come), so the second hop may be seen before the first.
void LateralStage::note_hop(HostId src, HostId dst, std::uint8_t service, std::uint32_t t, bool novel, bool carries,
                            double score, bool learning) {
    if (config_.services[service].service_class == ServiceClass::directory) return;  // every host talks to DCs
    remember(graph_.state(dst).inbound, src, service, t, novel);
    remember(graph_.state(src).outbound, dst, service, t, carries);
    if (learning) return;
    const auto window = static_cast<std::uint32_t>(config_.chain_window_ns / kSecondNs);
    if (carries) {  // this hop continues a chain that a new hop into src started
        const Inbound* first = nullptr;
        for (const Inbound& in : graph_.state(src).inbound)
            if (in.from != kNoHost && in.from != dst && in.novel && in.time_s <= t && t - in.time_s <= window &&
                (first == nullptr || in.time_s > first->time_s))
                first = &in;
        if (first != nullptr) report_chain(first->from, src, dst, first->service, service, first->time_s, t, score);
    }
    if (novel) {  // this hop starts a chain that a hop out of dst, seen already, continues
        for (const Inbound& out : graph_.state(dst).outbound)
            if (out.from != kNoHost && out.from != src && out.novel && out.time_s >= t && out.time_s - t <= window)
                report_chain(src, dst, out.from, service, out.service, t, out.time_s, score);
    }
}

void LateralStage::report_chain(HostId a, HostId b, HostId c, std::uint8_t first_service, std::uint8_t second_service,
                                std::uint32_t first_s, std::uint32_t second_s, double score) {
    const HostState& origin = graph_.state(a);
    const HostState& target = graph_.state(c);
    Finding f;
    f.kind = Kind::chain;
    f.origin = a;
    f.target = c;
    f.severity = origin.watched || (target.roles() & kRoleDomainController) != 0 ? Severity::high : Severity::medium;
    f.score = std::max(score, 0.5);
    f.first_s = first_s;
    f.last_s = second_s;
    f.hops.push_back({a, b, first_service, first_s, true, 0});
    f.hops.push_back({b, c, second_service, second_s, false, 0});
    f.techniques = config_.services[first_service].techniques;
    add_techniques(f.techniques, config_.services[second_service].techniques);
    report(std::move(f));
}

// How unusual a new edge is: for the source (does it use the service at all; is it an admin or a fan-out host
// doing its job), for the destination (how many clients it has on the service), and for the source's group
// (do its peers reach this destination; does its group reach the destination's group at all).
double LateralStage::edge_score(HostId src, HostId dst, std::uint8_t service) const {
    const HostState& s = graph_.state(src);
    const HostState& d = graph_.state(dst);
    const ServiceClass c = config_.services[service].service_class;
    const bool uses = (s.client_services & (1u << service)) != 0;
    double source = uses ? 0.3 : 1.0;
    if (c == ServiceClass::remote_admin && (s.roles() & kRoleAdmin) != 0) source *= 0.3;
    if ((s.roles() & kRoleFanOut) != 0 && uses) source *= 0.3;
    if (c == ServiceClass::directory && (d.roles() & kRoleDomainController) != 0) source *= 0.3;
    const double destination = 1.0 / std::sqrt(1.0 + d.clients[service]);
    double group = 1.0;
    if (graph_.peers_reach(src, dst, service))
        group = 0.3;
    else if (!graph_.groups_connect(src, dst, service))
        group = 2.5;
    return std::min(1.0, source * destination * group);
}

void LateralStage::count_fanout(HostId src, HostId dst, std::uint8_t service, std::uint32_t t) {
    HostState& s = graph_.state(src);
    const auto window = static_cast<std::uint32_t>(config_.fanout_window_ns / kSecondNs);
    if (t >= s.window_start_s + window) {
        if (!s.window_alerted) s.window_max = std::max(s.window_max, s.window_hosts);
        s.window_start_s = t;
        s.window_hosts = 0;
        s.window_alerted = false;
        s.window_targets.clear();
    }
    // Popular destinations (a DC, the file server everyone uses) are not a sweep's targets.
    if (graph_.state(dst).clients[service] > kUncommonClients) return;
    if (std::find(s.window_targets.begin(), s.window_targets.end(), dst) != s.window_targets.end()) return;
    if (s.window_targets.size() < config_.fanout_min_hosts * 8) s.window_targets.push_back(dst);
    if (s.window_hosts < UINT16_MAX) ++s.window_hosts;
    s.window_services |= 1u << service;
    if (graph_.learning(t)) return;
    const double threshold =
        std::max<double>(static_cast<double>(config_.fanout_min_hosts), config_.fanout_baseline_factor * s.window_max);
    if (s.window_hosts < threshold) return;
    Finding f;
    f.kind = Kind::fanout;
    f.origin = src;
    f.severity = s.watched || s.window_hosts >= 4 * threshold ? Severity::high : Severity::medium;
    f.score = std::min(1.0, s.window_hosts / (2 * threshold));
    f.first_s = s.window_start_s;
    f.last_s = t;
    if (s.window_alerted) {  // the sweep goes on: its finding (held, or its open incident) takes the new target
        f.hops.push_back({src, dst, service, t, true, 0});
        f.details["distinct_targets"] = s.window_hosts;
        report(std::move(f));
        return;
    }
    s.window_alerted = true;
    for (const HostId target : s.window_targets) {
        for (std::uint8_t svc = 0; svc < config_.services.size(); ++svc) {
            const Edge* e = graph_.find_edge(src, target, svc);
            if (e == nullptr || e->first_s < s.window_start_s || f.hops.size() >= kMaxHops) continue;
            f.hops.push_back({src, target, svc, e->first_s, true, 0});
        }
    }
    f.techniques = {"T1046", "T1018"};
    for (std::uint8_t svc = 0; svc < config_.services.size(); ++svc)
        if (s.window_services & (1u << svc)) add_techniques(f.techniques, config_.services[svc].techniques);
    f.details["distinct_targets"] = s.window_hosts;
    f.details["window_s"] = window;
    f.details["baseline_busiest_window"] = s.window_max;
    report(std::move(f));
}

void LateralStage::remember(std::array<Inbound, 4>& slots, HostId peer, std::uint8_t service, std::uint32_t t,
                            bool flag) {
    Inbound* slot = &slots[0];
    for (auto& c : slots) {
        if (c.from == peer) {
            slot = &c;
            break;
        }
        if (c.time_s < slot->time_s) slot = &c;
    }
    // A pair's flag stays while its contacts keep coming within the window (a session's later flows).
    const bool kept = slot->from == peer && slot->novel && t >= slot->time_s &&
                      t - slot->time_s <= config_.chain_window_ns / kSecondNs;
    if (slot->from == peer && t < slot->time_s) return;  // an older contact of the same pair: nothing new
    *slot = {peer, t, service, flag || kept};
}

void LateralStage::on_answer(const FlowRecord& r, std::uint8_t service, std::uint32_t t) {
    // An answer: the server is the source. Directory answers count toward the client's hourly volume.
    if (config_.services[service].service_class != ServiceClass::directory) return;
    const HostId server = graph_.find(r.src_addr);
    if (server == kNoHost || (graph_.state(server).roles() & kRoleDomainController) == 0) return;
    const HostId client = graph_.find(r.dst_addr);
    if (client == kNoHost) return;
    count_directory(client, t, 0, r.bytes);
}

void LateralStage::on_dynamic(const FlowRecord& r, std::uint32_t t) {
    const HostId a = graph_.find(r.src_addr);
    const HostId b = graph_.find(r.dst_addr);
    if (a == kNoHost || b == kNoHost) return;
    const auto follow = static_cast<std::uint32_t>(config_.rpc_follow_ns / kSecondNs);
    const auto fresh = [&](RpcSession& s) { return t >= s.last_s ? t - s.last_s <= follow : true; };
    if (auto it = rpc_.find(pair_key(a, b)); it != rpc_.end() && fresh(it->second)) {
        // The client's request into the dynamic range: RPC over the endpoint the mapper gave it.
        it->second.last_s = std::max(it->second.last_s, t);
        ++counters_.admin_flows;
        const auto rpc = static_cast<std::uint8_t>(rpc_service_);
        if (graph_.find_edge(a, b, rpc) != nullptr) graph_.touch_edge(a, b, rpc, t, r.bytes);
        return;
    }
    auto it = rpc_.find(pair_key(b, a));
    if (it == rpc_.end() || !fresh(it->second)) {
        // No endpoint-mapper contact yet: it may still come (records arrive out of order). Kept for a while.
        const auto key = pair_key(a, b);
        if (orphans_.size() >= kMaxOrphans && !orphans_.contains(key)) return;
        Orphan& o = orphans_[key];
        if (o.bytes == 0) o.first_s = t;
        o.first_s = std::min(o.first_s, t);
        o.last_s = std::max(o.last_s, t);
        o.bytes += r.bytes;
        return;
    }
    // The server's answer.
    it->second.last_s = std::max(it->second.last_s, t);
    it->second.answer_bytes += r.bytes;
    check_dcsync(b, a, it->second, t);
}

// Replication-sized answers from a DC to a host that is not one: DCSync's shape.
void LateralStage::check_dcsync(HostId client, HostId server, RpcSession& session, std::uint32_t t) {
    const HostState& s = graph_.state(server);
    const HostState& c = graph_.state(client);
    if (session.reported || session.answer_bytes < config_.dcsync_min_bytes) return;
    if ((s.roles() & kRoleDomainController) == 0 || (c.roles() & kRoleDomainController) != 0) return;
    session.reported = true;
    Finding f;
    f.kind = Kind::dcsync;
    f.origin = client;
    f.target = server;
    f.severity = Severity::critical;
    f.score = 1.0;
    f.first_s = session.contact_s != 0 ? std::min(session.contact_s, t) : t;  // the endpoint-mapper contact
    f.last_s = std::max(session.last_s, t);
    f.hops.push_back({client, server, static_cast<std::uint8_t>(rpc_service_), f.first_s, false, 0});
    f.techniques = {"T1003.006"};
    f.details["answer_bytes"] = session.answer_bytes;
    f.details["dc"] = s.address.to_string();
    report(std::move(f));
}

void LateralStage::on_external(const FlowRecord& r, std::uint32_t t) {
    // A watched host's internet traffic (the forwarder sends every record that touches one). Its requests only:
    // an answer goes from a low (service) port to a higher one.
    if (!selection_.watched.contains(r.src_addr) || r.src_port < r.dst_port) return;
    const HostId host = graph_.host(r.src_addr);
    if (host == kNoHost) return;
    if (!graph_.touch_external(host, r.dst_addr, r.dst_port, r.proto) || graph_.learning(t)) return;
    Finding f;
    f.kind = Kind::watched;
    f.origin = host;
    f.peer = r.dst_addr;
    f.severity = Severity::high;
    f.score = 1.0;
    f.first_s = f.last_s = t;
    f.techniques = {"T1071", "T1041"};
    boost::json::object peer{{"addr", r.dst_addr.to_string()},
                             {"port", r.dst_port},
                             {"proto", r.proto},
                             {"time", format_iso8601_seconds(t)}};
    f.details["new_internet_peers"] = boost::json::array{peer};
    report(std::move(f));
}

void LateralStage::count_directory(HostId client, std::uint32_t t, std::uint64_t flows, std::uint64_t bytes) {
    HostState& h = graph_.state(client);
    if ((h.roles() & kRoleDomainController) != 0) return;  // replication between DCs
    constexpr std::uint32_t kBucket = 1800;
    constexpr std::uint32_t kRing = static_cast<std::uint32_t>(std::tuple_size_v<decltype(h.directory)>);
    const std::uint32_t id = t / kBucket;
    const auto slot = [&](std::uint32_t k) -> DirectoryBucket& { return h.directory[k % kRing]; };
    DirectoryBucket& bucket = slot(id);
    if (bucket.id > id) return;  // older than the ring: too late to count
    if (bucket.id != id) {
        // The bucket leaves the ring: its window (with the half hour before it) joins the baseline.
        if (bucket.id != 0 && !bucket.alerted) {
            const DirectoryBucket& before = slot(bucket.id - 1);
            const bool adjacent = before.id == bucket.id - 1 && !before.alerted;
            h.max_hour_flows = std::max(h.max_hour_flows, bucket.flows + (adjacent ? before.flows : 0));
            h.max_hour_bytes = std::max(h.max_hour_bytes, bucket.bytes + (adjacent ? before.bytes : 0));
        }
        bucket = {id, 0, 0, false};
    }
    bucket.flows += static_cast<std::uint32_t>(flows);
    bucket.bytes += bytes;
    if (bucket.alerted || graph_.learning(t)) return;
    // The two windows this half hour belongs to: with the one before, and with the one after (late records).
    std::uint64_t hour_flows = 0;
    std::uint64_t hour_bytes = 0;
    std::uint32_t window_start = id;
    for (const std::uint32_t other : {id - 1, id + 1}) {
        const DirectoryBucket& o = slot(other);
        if (o.id != other) continue;
        if (o.flows + bucket.flows > hour_flows || o.bytes + bucket.bytes > hour_bytes) {
            hour_flows = std::max<std::uint64_t>(hour_flows, o.flows + bucket.flows);
            hour_bytes = std::max<std::uint64_t>(hour_bytes, o.bytes + bucket.bytes);
            window_start = std::min(window_start, other);
        }
    }
    hour_flows = std::max<std::uint64_t>(hour_flows, bucket.flows);
    hour_bytes = std::max<std::uint64_t>(hour_bytes, bucket.bytes);
    const double flow_limit =
        std::max<double>(static_cast<double>(config_.directory_min_flows), config_.directory_factor * h.max_hour_flows);
    const double byte_limit = std::max<double>(static_cast<double>(config_.directory_min_bytes),
                                               config_.directory_factor * static_cast<double>(h.max_hour_bytes));
    const bool many_flows = static_cast<double>(hour_flows) >= flow_limit;
    const bool many_bytes = static_cast<double>(hour_bytes) >= byte_limit;
    if (!many_flows && !many_bytes) return;
    for (const std::uint32_t k : {id - 1, id, id + 1})
        if (slot(k).id == k) slot(k).alerted = true;
    Finding f;
    f.kind = Kind::directory;
    f.origin = client;
    f.severity = Severity::high;
    f.score = std::min(1.0, std::max(static_cast<double>(hour_flows) / (2 * flow_limit),
                                     static_cast<double>(hour_bytes) / (2 * byte_limit)));
    f.first_s = window_start * kBucket;
    f.last_s = t;
    f.techniques = many_flows ? std::vector<std::string>{"T1558", "T1558.003"} : std::vector<std::string>{"T1087.002"};
    if (many_flows && many_bytes) add_techniques(f.techniques, {"T1087.002"});
    f.details["hour_flows"] = hour_flows;
    f.details["hour_answer_bytes"] = hour_bytes;
    f.details["baseline_hour_flows"] = h.max_hour_flows;
    f.details["baseline_hour_answer_bytes"] = h.max_hour_bytes;
    report(std::move(f));
}

namespace {

int rank(int kind) {
    return kind;  // the enum's order: new_edge < fanout < directory < watched < chain < dcsync
}

}  // namespace

// The alert budget. A finding joins the pending finding of its origin host (the higher kind heads it, the hops
// are merged), or the chain it belongs to absorbs the pending findings of the hosts on its path; a finding for a
// host whose incident was reported is folded in unless it escalates.
void LateralStage::report(Finding f) {
    ++counters_.findings;
    // Held from the finding's own time, not from when its record arrived: late records (another shard's
    // batch, a flow exported at its end) do not stretch or shorten the hold.
    f.held_since_s = f.last_s;
    if (f.kind == Kind::chain) {
        for (const Hop& hop : f.hops) {
            if (hop.src == f.origin) continue;
            auto it = pending_.find(hop.src);
            if (it == pending_.end()) continue;
            for (const Hop& h : it->second.hops) f.hops.push_back(h);
            add_techniques(f.techniques, it->second.techniques);
            f.first_s = std::min(f.first_s, it->second.first_s);
            counters_.absorbed += 1 + it->second.absorbed;
            pending_.erase(it);
        }
    }
    auto it = pending_.find(f.origin);
    if (it == pending_.end()) {
        if (auto open = incidents_.find(f.origin); open != incidents_.end() && open->second.until_s >= now_s_) {
            const bool escalates = rank(static_cast<int>(f.kind)) > rank(static_cast<int>(open->second.kind)) ||
                                   f.severity > open->second.severity;
            if (!escalates) {
                ++counters_.absorbed;
                return;
            }
        }
        pending_.emplace(f.origin, std::move(f));
        return;
    }
    Finding& held = it->second;
    ++counters_.absorbed;
    ++held.absorbed;
    if (rank(static_cast<int>(f.kind)) > rank(static_cast<int>(held.kind))) {
        held.kind = f.kind;
        held.target = f.target;
        held.peer = f.peer;
    }
    held.severity = std::max(held.severity, f.severity);
    held.score = std::max(held.score, f.score);
    held.first_s = std::min(held.first_s, f.first_s);
    held.last_s = std::max(held.last_s, f.last_s);
    for (const Hop& hop : f.hops) {
        const bool seen = std::any_of(held.hops.begin(), held.hops.end(), [&](const Hop& h) {
            return h.src == hop.src && h.dst == hop.dst && h.service == hop.service;
        });
        if (!seen && held.hops.size() < kMaxHops) held.hops.push_back(hop);
    }
    add_techniques(held.techniques, f.techniques);
    for (const auto& [key, value] : f.details) {
        if (value.is_array() && held.details.contains(key) && held.details[key].is_array()) {
            for (const auto& v : value.as_array()) held.details[key].as_array().push_back(v);
        } else {
            held.details[key] = value;
        }
    }
}

void LateralStage::emit_due(std::uint32_t now_s, bool all, Alerts& alerts) {
    if (pending_.empty()) return;
    const auto hold = static_cast<std::uint32_t>(config_.hold_ns / kSecondNs);
    std::vector<HostId> due;
    for (const auto& [origin, f] : pending_)
        if (all || now_s >= f.held_since_s + hold) due.push_back(origin);
    if (due.empty()) return;
    std::vector<Alert> out;
    for (const HostId origin : due) {
        auto it = pending_.find(origin);
        const Finding f = std::move(it->second);
        pending_.erase(it);
        incidents_[origin] = {f.last_s + static_cast<std::uint32_t>(config_.incident_ns / kSecondNs), f.kind,
                              f.severity};
        out.push_back(to_alert(f));
    }
    // A fixed order, not the hash table's.
    std::sort(out.begin(), out.end(), [](const Alert& a, const Alert& b) {
        return std::tie(a.first_seen_ns, a.id) < std::tie(b.first_seen_ns, b.id);
    });
    counters_.alerts += out.size();
    for (auto& a : out) alerts.push_back(std::move(a));
}

Alert LateralStage::to_alert(const Finding& f) const {
    const HostState& origin = graph_.state(f.origin);
    Alert a;
    a.kind = std::string(kind_name(static_cast<int>(f.kind)));
    a.severity = f.severity;
    a.score = round3(f.score);
    a.src_addr = origin.address;
    if (f.target != kNoHost) a.dst_addr = graph_.state(f.target).address;
    if (!f.peer.empty()) a.dst_addr = f.peer;
    a.first_seen_ns = std::uint64_t{f.first_s} * kSecondNs;
    a.last_seen_ns = std::uint64_t{f.last_s} * kSecondNs;
    a.techniques = f.techniques;
    a.dedup_key = fmt::format("{}:{}:{}", a.kind, origin.address.to_string(), f.first_s / kDay);
    a.id = alert_id(a.dedup_key, std::uint64_t{f.first_s} * 1'000'000'000ull);
    auto& e = a.evidence;
    std::vector<Hop> hops = f.hops;
    std::sort(hops.begin(), hops.end(), [](const Hop& x, const Hop& y) {
        return std::tie(x.time_s, x.src, x.dst, x.service) < std::tie(y.time_s, y.src, y.dst, y.service);
    });
    boost::json::array edges;
    boost::json::object roles;
    const auto note_host = [&](HostId id) {
        const HostState& h = graph_.state(id);
        const auto key = h.address.to_string();
        if (roles.contains(key)) return;
        boost::json::object o;
        boost::json::array r;
        for (const auto& name : role_names(h.roles())) r.emplace_back(name);
        o["roles"] = std::move(r);
        boost::json::array learned;
        for (const auto& name : role_names(h.learned_roles)) learned.emplace_back(name);
        o["learned_roles"] = std::move(learned);
        if (h.group >= 0) o["group"] = config_.groups[static_cast<std::size_t>(h.group)].name;
        if (h.watched) o["watched"] = true;
        roles[key] = std::move(o);
    };
    note_host(f.origin);
    for (const Hop& h : hops) {
        edges.push_back(boost::json::object{{"src", graph_.state(h.src).address.to_string()},
                                            {"dst", graph_.state(h.dst).address.to_string()},
                                            {"service", config_.services[h.service].name},
                                            {"time", format_iso8601_seconds(h.time_s)},
                                            {"new", h.novel},
                                            {"score", round3(h.score)}});
        note_host(h.src);
        note_host(h.dst);
    }
    if (f.kind == Kind::chain) {
        boost::json::array path;
        for (const Hop& h : hops) {
            const auto src = graph_.state(h.src).address.to_string();
            if (path.empty()) path.emplace_back(src);
            path.emplace_back(graph_.state(h.dst).address.to_string());
        }
        e["path"] = std::move(path);
    }
    if (!edges.empty()) e["edges"] = std::move(edges);
    e["hosts"] = std::move(roles);
    for (const auto& [key, value] : f.details) e[key] = value;
    if (f.absorbed) e["merged_findings"] = f.absorbed;
    e["learning_until"] =
        format_iso8601_seconds(graph_.started_s() + static_cast<std::int64_t>(config_.learning_ns / kSecondNs));
    return a;
}

void LateralStage::maintain(std::uint32_t t) {
    last_maintain_s_ = t;
    graph_.maintain(t);
    // Rebuilt once as many went as they hold: with Boost 1.81, erasures leave overflow marks that lengthen
    // probes (and rehash(0) to the same capacity does nothing).
    rpc_churn_.erased(rpc_,
                      boost::unordered::erase_if(rpc_, [t](const auto& kv) { return kv.second.last_s + 3600 < t; }));
    orphan_churn_.erased(
        orphans_, boost::unordered::erase_if(orphans_, [t](const auto& kv) { return kv.second.last_s + 3600 < t; }));
    boost::unordered::erase_if(incidents_, [t](const auto& kv) { return kv.second.until_s < t; });
}

void LateralStage::poll(std::uint64_t now_ns, Alerts& alerts) {
    // Live: the records' clock stands still while nothing arrives; the wall clock keeps the hold running.
    if (pending_.empty() || wall_at_last_record_ns_ == 0 || now_ns <= wall_at_last_record_ns_) return;
    const auto idle_s = static_cast<std::uint32_t>((now_ns - wall_at_last_record_ns_) / kSecondNs);
    emit_due(now_s_ + idle_s, false, alerts);
}

void LateralStage::finish(Alerts& alerts) {
    emit_due(now_s_, true, alerts);
    if (config_.state_file.empty()) return;
    std::string error;
    if (!save(config_.state_file, error))
        spdlog::error("lateral: saving the graph to {} failed: {}", config_.state_file, error);
}

void LateralStage::flush(std::uint64_t now_ns) {
    (void)now_ns;
    if (config_.state_file.empty() || now_s_ < last_save_s_ + config_.save_interval_ns / kSecondNs) return;
    if (last_save_s_ == 0) {  // the first interval starts with the first record
        last_save_s_ = now_s_;
        return;
    }
    last_save_s_ = now_s_;
    std::string error;
    if (!save(config_.state_file, error))
        spdlog::error("lateral: saving the graph to {} failed: {}", config_.state_file, error);
}

bool LateralStage::save(const std::string& path, std::string& error) {
    error = replace_file(path, [&](std::ostream& out) { graph_.save(out); });
    if (!error.empty()) {
        ++counters_.save_failures;
        return false;
    }
    ++counters_.saves;
    return true;
}

void LateralStage::load(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
    graph_.load(in, path);
}

void LateralStage::restore() {
    if (config_.state_file.empty()) return;
    std::ifstream probe(config_.state_file);
    if (!probe) return;  // a first start
    probe.close();
    load(config_.state_file);
    spdlog::info("lateral: graph restored from {} ({} hosts, {} edges)", config_.state_file, graph_.host_count(),
                 graph_.edge_count());
}

LateralCounters LateralStage::counters() const {
    LateralCounters c = counters_;
    const GraphCounters g = graph_.counters();
    c.edges = g.edges;
    c.hosts = g.hosts;
    c.edge_evictions = g.edge_evictions;
    c.edges_expired = g.edges_expired;
    c.host_cap_drops = g.host_cap_drops;
    c.peer_cap_drops = g.peer_cap_drops;
    c.learning = graph_.learning(now_s_) ? 1 : 0;
    return c;
}

void LateralStage::publish() {
    const LateralCounters c = counters();
    std::lock_guard lock(published_mutex_);
    published_ = c;
}

LateralCounters LateralStage::published() const {
    std::lock_guard lock(published_mutex_);
    return published_;
}

void LateralStage::write_published_metrics(MetricSink& sink) const {
    flowguard::write_metrics(sink, published(), kLateralCounters);
}

void LateralStage::append_metric_specs(std::vector<MetricSpec>& catalog) {
    flowguard::append_metric_specs(catalog, kLateralCounters);
}

}  // namespace flowguard::analyzer
