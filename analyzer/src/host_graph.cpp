#include <flowguard/analyzer/host_graph.hpp>
#include <flowguard/core/time_format.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <istream>
#include <ostream>
#include <stdexcept>

namespace flowguard::analyzer {
namespace {

// Roles learned from the graph during the learning period (docs/DETECTION.md).
constexpr std::uint16_t kDcMinKerberosClients = 3;  // only domain controllers answer Kerberos
constexpr std::uint32_t kFanOutMinTargets = 40;     // distinct hosts on file/admin/data services
constexpr std::uint32_t kAdminMinTargets = 3;       // distinct hosts on remote-admin services

constexpr std::uint32_t kGroupConfigured = 1u << 31;
constexpr std::uint32_t kGroupRole = 1u << 30;
constexpr std::uint32_t kGroupV6 = 1u << 29;

std::uint64_t mix(std::uint64_t a, std::uint64_t b) noexcept {
    a ^= b + 0x9e3779b97f4a7c15ull + (a << 6) + (a >> 2);
    return a * 0xff51afd7ed558ccdull;
}

std::size_t service_index(const std::vector<AdminService>& services, std::string_view name) {
    for (std::size_t i = 0; i < services.size(); ++i)
        if (services[i].name == name) return i;
    return kMaxServices;
}

std::uint32_t parse_iso_seconds(std::string_view text, const std::string& where) {
    std::tm tm{};
    const std::string copy(text);
    const char* end = strptime(copy.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == nullptr || (*end != 'Z' && *end != '.'))
        throw std::runtime_error(fmt::format("{}: '{}' is not a UTC time (2024-03-01T12:00:00Z)", where, text));
    return static_cast<std::uint32_t>(timegm(&tm));
}

std::uint64_t external_key(HostId host, const IpAddress& peer, std::uint16_t port, std::uint8_t proto) {
    // /24 for IPv4, /48 for IPv6: a service's addresses rotate inside its provider's block.
    const auto& b = peer.bytes();
    std::uint64_t prefix = 0;
    if (peer.is_v4())
        prefix = (std::uint64_t{b[12]} << 16) | (std::uint64_t{b[13]} << 8) | b[14];
    else
        for (int i = 0; i < 6; ++i) prefix = (prefix << 8) | b[i];
    return mix(mix(mix(host, prefix), port), proto | (peer.is_v4() ? 0x100u : 0x200u));
}

std::string external_prefix_text(const IpAddress& peer) {
    auto b = peer.bytes();
    if (peer.is_v4()) {
        return fmt::format("{}.{}.{}.0/24", b[12], b[13], b[14]);
    }
    for (int i = 6; i < 16; ++i) b[i] = 0;
    return IpAddress::from_v6_bytes(b.data()).to_string() + "/48";
}

}  // namespace

std::vector<std::string> role_names(std::uint8_t roles) {
    std::vector<std::string> out;
    if (roles & kRoleDomainController) out.emplace_back("domain-controller");
    if (roles & kRoleFanOut) out.emplace_back("fan-out");
    if (roles & kRoleAdmin) out.emplace_back("admin-workstation");
    return out;
}

std::uint8_t role_from_name(std::string_view name) noexcept {
    if (name == "domain-controller" || name == kDomainControllers) return kRoleDomainController;
    if (name == "admin-workstation" || name == kAdminWorkstations) return kRoleAdmin;
    if (name == "fan-out") return kRoleFanOut;
    for (const auto group : kFanOutGroups)
        if (name == group) return kRoleFanOut;
    return 0;
}

HostGraph::HostGraph(const LateralConfig& config, const NetworkSet& watched) : config_(config), watched_(watched) {
    kerberos_ = service_index(config_.services, "kerberos");
}

HostId HostGraph::find(const IpAddress& address) const {
    const auto it = ids_.find(address);
    return it == ids_.end() ? kNoHost : it->second;
}

HostId HostGraph::host(const IpAddress& address) {
    const auto it = ids_.find(address);
    if (it != ids_.end()) return it->second;
    if (hosts_.size() >= config_.max_hosts) {
        ++host_cap_drops_;
        return kNoHost;
    }
    const auto id = static_cast<HostId>(hosts_.size());
    HostState& h = hosts_.emplace_back();
    h.address = address;
    for (std::size_t g = 0; g < config_.groups.size(); ++g) {
        if (!config_.groups[g].networks.contains(address)) continue;
        h.group = static_cast<std::int32_t>(g);
        h.configured_roles = role_from_name(config_.groups[g].name);
        break;
    }
    h.watched = !watched_.empty() && watched_.contains(address);
    ids_.emplace(address, id);
    return id;
}

const Edge* HostGraph::find_edge(HostId src, HostId dst, std::uint8_t service) const {
    const auto it = edges_.find(edge_key(src, dst, service));
    return it == edges_.end() ? nullptr : &it->second;
}

bool HostGraph::pair_known(HostId src, HostId dst) const {
    for (std::size_t s = 0; s < config_.services.size(); ++s)
        if (edges_.contains(edge_key(src, dst, static_cast<std::uint8_t>(s)))) return true;
    return false;
}

bool HostGraph::touch_edge(HostId src, HostId dst, std::uint8_t service, std::uint32_t time_s, std::uint64_t bytes) {
    const auto [it, created] = edges_.try_emplace(edge_key(src, dst, service));
    Edge& e = it->second;
    if (created) e.first_s = time_s;
    e.last_s = std::max(e.last_s, time_s);
    ++e.count;
    e.bytes += bytes;
    if (!created) return false;
    note_new_edge(src, dst, service);
    if (edges_.size() > config_.max_edges) evict_stalest();
    return true;
}

void HostGraph::note_new_edge(HostId src, HostId dst, std::uint8_t service) {
    HostState& s = hosts_[src];
    HostState& d = hosts_[dst];
    const std::uint32_t bit = 1u << service;
    if (!(s.client_services & bit)) ++service_users_[service];
    s.client_services |= bit;
    if (d.clients[service] < UINT16_MAX) ++d.clients[service];
    const ServiceClass c = config_.services[service].service_class;
    // A new target when no other service of the same kind already joins the pair.
    const auto not_directory = [](ServiceClass k) { return k != ServiceClass::directory; };
    const auto remote_admin = [](ServiceClass k) { return k == ServiceClass::remote_admin; };
    if (not_directory(c) && !joined_by_other(src, dst, service, not_directory)) ++s.targets;
    if (remote_admin(c) && !joined_by_other(src, dst, service, remote_admin)) ++s.admin_targets;
    // What a design fan-out host reaches (the scanner: everything) says nothing about what its group does.
    if (!(s.roles() & kRoleFanOut)) {
        peer_dst_.insert(mix(mix(group_key(src), dst), service));
        group_pair_.insert(mix(mix(group_key(src), group_key(dst)), service | 0x100u));
    }
    if (!roles_frozen_ && learning(now_s_)) {
        learn_roles(src);
        learn_roles(dst);
    }
}

template <class Counts>
bool HostGraph::joined_by_other(HostId src, HostId dst, std::uint8_t service, Counts counts) const {
    for (std::size_t o = 0; o < config_.services.size(); ++o)
        if (o != service && counts(config_.services[o].service_class) &&
            edges_.contains(edge_key(src, dst, static_cast<std::uint8_t>(o))))
            return true;
    return false;
}

void HostGraph::learn_roles(HostId id) {
    HostState& h = hosts_[id];
    if (kerberos_ < kMaxServices && h.clients[kerberos_] >= kDcMinKerberosClients)
        h.learned_roles |= kRoleDomainController;
    if (h.targets >= kFanOutMinTargets) h.learned_roles |= kRoleFanOut;
    if (h.admin_targets >= kAdminMinTargets) h.learned_roles |= kRoleAdmin;
}

std::uint32_t HostGraph::group_key(HostId id) const {
    const HostState& h = hosts_[id];
    if (h.group >= 0) return kGroupConfigured | static_cast<std::uint32_t>(h.group);
    if (h.roles() != 0) return kGroupRole | h.roles();
    const auto& b = h.address.bytes();
    if (h.address.is_v4()) return (std::uint32_t{b[12]} << 16) | (std::uint32_t{b[13]} << 8) | b[14];
    std::uint64_t prefix = 0;
    for (int i = 0; i < 8; ++i) prefix = (prefix << 8) | b[i];
    return kGroupV6 | static_cast<std::uint32_t>(mix(prefix, 0) & (kGroupV6 - 1));
}

bool HostGraph::peers_reach(HostId src, HostId dst, std::uint8_t service) const {
    return peer_dst_.contains(mix(mix(group_key(src), dst), service));
}

bool HostGraph::groups_connect(HostId src, HostId dst, std::uint8_t service) const {
    return group_pair_.contains(mix(mix(group_key(src), group_key(dst)), service | 0x100u));
}

bool HostGraph::touch_external(HostId host, const IpAddress& peer, std::uint16_t port, std::uint8_t proto) {
    const auto key = external_key(host, peer, port, proto);
    if (external_.size() >= kMaxExternalPeers && !external_.contains(key)) {
        ++peer_cap_drops_;  // a watched host with this many internet peers is no NMS: say so, stay bounded
        return false;
    }
    const bool inserted = external_.insert(key).second;
    if (inserted) external_list_.push_back({host, peer, port, proto});
    return inserted;
}

void HostGraph::evict_stalest() {
    // Forget an eighth at once, by last use: one pass over the table per eighth, not per insert.
    std::vector<std::uint32_t> last;
    last.reserve(edges_.size());
    for (const auto& [key, e] : edges_) last.push_back(e.last_s);
    const auto nth = last.begin() + static_cast<std::ptrdiff_t>(last.size() / 8);
    std::nth_element(last.begin(), nth, last.end());
    const std::uint32_t cutoff = *nth;
    std::size_t removed = 0;
    const std::size_t target = last.size() / 8 + 1;
    for (auto it = edges_.begin(); it != edges_.end() && removed < target;) {
        if (it->second.last_s <= cutoff) {
            edges_.erase(it++);  // (erasing leaves the other iterators valid)
            ++removed;
        } else {
            ++it;
        }
    }
    edge_evictions_ += removed;
    // Rebuilt once as many edges went as it holds: probe lengths do not drift with the erasures (Boost 1.81
    // keeps overflow marks, and rehash(0) to the same capacity does nothing).
    edge_churn_.erased(edges_, removed);
    rebuild_aggregates();
}

void HostGraph::maintain(std::uint32_t now_s) {
    const auto ttl = static_cast<std::uint32_t>(std::min<std::uint64_t>(config_.edge_ttl_ns / kSecondNs, now_s));
    const std::size_t before = edges_.size();
    boost::unordered::erase_if(edges_, [&](const auto& kv) { return kv.second.last_s + ttl < now_s; });
    edges_expired_ += before - edges_.size();
    if (before != edges_.size()) {
        edge_churn_.erased(edges_, before - edges_.size());
        rebuild_aggregates();
    }
}

void HostGraph::rebuild_aggregates() {
    for (auto& h : hosts_) {
        h.client_services = 0;
        h.targets = 0;
        h.admin_targets = 0;
        h.clients.fill(0);
    }
    service_users_.fill(0);
    peer_dst_.clear();
    group_pair_.clear();
    // Edges in key order (src, dst, service): the pair counts see a pair's services together.
    std::vector<std::uint64_t> keys;
    keys.reserve(edges_.size());
    for (const auto& [key, e] : edges_) keys.push_back(key);
    std::sort(keys.begin(), keys.end());
    const bool frozen = roles_frozen_;
    roles_frozen_ = true;  // roles stay as learned
    auto saved = std::move(edges_);
    edges_.clear();
    edges_.reserve(saved.size());
    for (const auto key : keys) {
        const auto src = static_cast<HostId>(key >> 36);
        const auto dst = static_cast<HostId>((key >> 8) & 0xfffffffu);
        const auto service = static_cast<std::uint8_t>(key & 0xff);
        edges_.emplace(key, saved.at(key));
        note_new_edge(src, dst, service);
    }
    roles_frozen_ = frozen;
}

GraphCounters HostGraph::counters() const {
    return {edges_.size(), hosts_.size(), edge_evictions_, edges_expired_, host_cap_drops_, peer_cap_drops_};
}

void HostGraph::save(std::ostream& out) const {
    boost::json::object header{
        {"type", "graph"},
        {"version", 1},
        {"started", format_iso8601_seconds(started_s_)},
        {"learning_until",
         format_iso8601_seconds(started_s_ + static_cast<std::int64_t>(config_.learning_ns / kSecondNs))}};
    out << boost::json::serialize(header) << '\n';
    for (const auto& h : hosts_) {
        boost::json::object line{{"type", "host"}, {"addr", h.address.to_string()}};
        if (h.group >= 0) line["group"] = config_.groups[static_cast<std::size_t>(h.group)].name;
        boost::json::array learned;
        for (const auto& r : role_names(h.learned_roles)) learned.emplace_back(r);
        line["learned_roles"] = std::move(learned);
        boost::json::array roles;
        for (const auto& r : role_names(h.roles())) roles.emplace_back(r);
        line["roles"] = std::move(roles);
        if (h.watched) line["watched"] = true;
        line["window_max"] = h.window_max;
        line["max_hour_flows"] = h.max_hour_flows;
        line["max_hour_bytes"] = h.max_hour_bytes;
        out << boost::json::serialize(line) << '\n';
    }
    std::vector<std::pair<std::uint64_t, Edge>> sorted(edges_.begin(), edges_.end());
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [key, e] : sorted) {
        const auto src = static_cast<HostId>(key >> 36);
        const auto dst = static_cast<HostId>((key >> 8) & 0xfffffffu);
        const auto service = static_cast<std::size_t>(key & 0xff);
        boost::json::object line{{"type", "edge"},
                                 {"src", hosts_[src].address.to_string()},
                                 {"dst", hosts_[dst].address.to_string()},
                                 {"service", config_.services[service].name},
                                 {"first_seen", format_iso8601_seconds(e.first_s)},
                                 {"last_seen", format_iso8601_seconds(e.last_s)},
                                 {"count", e.count},
                                 {"bytes", e.bytes}};
        out << boost::json::serialize(line) << '\n';
    }
    for (const auto& x : external_list_) {
        boost::json::object line{{"type", "external"},
                                 {"host", hosts_[x.host].address.to_string()},
                                 {"prefix", external_prefix_text(x.peer)},
                                 {"peer", x.peer.to_string()},
                                 {"port", x.port},
                                 {"proto", x.proto}};
        out << boost::json::serialize(line) << '\n';
    }
}

void HostGraph::load(std::istream& in, const std::string& name) {
    std::string text;
    std::size_t line_no = 0;
    const bool frozen = roles_frozen_;
    roles_frozen_ = true;  // loaded roles are kept, not learned again from loaded edges
    while (std::getline(in, text)) {
        ++line_no;
        if (text.empty()) continue;
        const std::string where = fmt::format("{}:{}", name, line_no);
        boost::system::error_code ec;
        const auto value = boost::json::parse(text, ec);
        if (ec || !value.is_object()) throw std::runtime_error(where + ": not a JSON object");
        const auto& o = value.as_object();
        const auto str = [&](std::string_view key) -> std::string {
            const auto* v = o.if_contains(key);
            if (v == nullptr || !v->is_string()) throw std::runtime_error(fmt::format("{}: no \"{}\"", where, key));
            return std::string(v->as_string());
        };
        const auto num = [&](std::string_view key) -> std::uint64_t {
            const auto* v = o.if_contains(key);
            if (v == nullptr) return 0;
            if (v->is_uint64()) return v->as_uint64();
            if (v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
            throw std::runtime_error(fmt::format("{}: \"{}\" is not a count", where, key));
        };
        const auto addr = [&](std::string_view key) {
            const auto a = IpAddress::parse(str(key));
            if (!a) throw std::runtime_error(fmt::format("{}: \"{}\" is not an address", where, key));
            return *a;
        };
        const std::string type = str("type");
        if (type == "graph") {
            if (num("version") != 1) throw std::runtime_error(where + ": unknown graph version");
            const auto started = parse_iso_seconds(str("started"), where);
            if (started_s_ == 0 || (started != 0 && started < started_s_)) started_s_ = started;
        } else if (type == "host") {
            const HostId id = host(addr("addr"));
            if (id == kNoHost) continue;
            HostState& h = hosts_[id];
            if (const auto* roles = o.if_contains("learned_roles"); roles && roles->is_array())
                for (const auto& r : roles->as_array())
                    if (r.is_string()) h.learned_roles |= role_from_name(std::string_view(r.as_string()));
            h.window_max = static_cast<std::uint16_t>(std::min<std::uint64_t>(num("window_max"), UINT16_MAX));
            h.max_hour_flows = static_cast<std::uint32_t>(std::min<std::uint64_t>(num("max_hour_flows"), UINT32_MAX));
            h.max_hour_bytes = num("max_hour_bytes");
        } else if (type == "edge") {
            const auto service = service_index(config_.services, str("service"));
            if (service >= kMaxServices) continue;  // a service no longer configured
            const HostId src = host(addr("src"));
            const HostId dst = host(addr("dst"));
            if (src == kNoHost || dst == kNoHost) continue;
            const auto key = edge_key(src, dst, static_cast<std::uint8_t>(service));
            const auto [it, created] = edges_.try_emplace(key);
            Edge& e = it->second;
            const auto first = parse_iso_seconds(str("first_seen"), where);
            const auto last = parse_iso_seconds(str("last_seen"), where);
            e.first_s = created ? first : std::min(e.first_s, first);
            e.last_s = std::max(e.last_s, last);
            e.count += static_cast<std::uint32_t>(std::min<std::uint64_t>(num("count"), UINT32_MAX));
            e.bytes += num("bytes");
            if (created) note_new_edge(src, dst, static_cast<std::uint8_t>(service));
        } else if (type == "external") {
            const HostId id = host(addr("host"));
            if (id == kNoHost) continue;
            touch_external(id, addr("peer"), static_cast<std::uint16_t>(num("port")),
                           static_cast<std::uint8_t>(num("proto")));
        } else {
            throw std::runtime_error(fmt::format("{}: unknown line type '{}'", where, type));
        }
    }
    roles_frozen_ = frozen;
    if (edges_.size() > config_.max_edges) evict_stalest();
}

}  // namespace flowguard::analyzer
