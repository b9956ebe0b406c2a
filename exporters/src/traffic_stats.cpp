#include <flowguard/exporters/traffic_stats.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <tuple>

namespace flowguard::exporters {
namespace {

// Well-known server ports (IANA) that network teams break traffic down by.
struct BuiltinApplication {
    const char* name;
    std::initializer_list<std::uint16_t> ports;
};
const BuiltinApplication kBuiltin[] = {
    {"http", {80, 8080, 8000}},
    {"https", {443, 8443}},
    {"dns", {53, 853}},
    {"ssh", {22}},
    {"telnet", {23}},
    {"smtp", {25, 465, 587}},
    {"imap", {143, 993}},
    {"pop3", {110, 995}},
    {"ntp", {123}},
    {"snmp", {161, 162}},
    {"ldap", {389, 636, 3268, 3269}},
    {"kerberos", {88, 464}},
    {"smb", {445, 139}},
    {"msrpc", {135}},
    {"rdp", {3389}},
    {"winrm", {5985, 5986}},
    {"mssql", {1433}},
    {"mysql", {3306}},
    {"postgresql", {5432}},
    {"syslog", {514, 6514}},
    {"netflow", {2055, 4739, 6343, 9995, 9996}},
    {"bgp", {179}},
    {"ftp", {20, 21}},
    {"sip", {5060, 5061}},
    {"vnc", {5900}},
    {"redis", {6379}},
    {"quic", {}},
    {"radius", {1812, 1813}},
    {"dhcp", {67, 68, 546, 547}},
    {"openvpn", {1194}},
    {"ipsec", {500, 4500}},
    {"wireguard", {51820}},
};

template <class Map, class Key>
std::vector<TopEntry> top_of(const Map& map, std::size_t k, Key&& to_entry) {
    std::vector<TopEntry> out;
    out.reserve(map.size());
    for (const auto& [key, bytes] : map) out.push_back(to_entry(key, bytes));
    const auto n = std::min(k, out.size());
    std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n), out.end(),
                      [](const TopEntry& a, const TopEntry& b) { return a.bytes > b.bytes; });
    out.resize(n);
    return out;
}

void merge_top(std::vector<TopEntry>& into, const std::vector<TopEntry>& from, std::size_t k) {
    for (const auto& e : from) {
        auto it = std::find_if(into.begin(), into.end(),
                               [&](const TopEntry& x) { return x.address == e.address && x.peer == e.peer; });
        if (it != into.end())
            it->bytes += e.bytes;
        else
            into.push_back(e);
    }
    std::sort(into.begin(), into.end(), [](const TopEntry& a, const TopEntry& b) { return a.bytes > b.bytes; });
    if (into.size() > k) into.resize(k);
}

}  // namespace

std::size_t hash_value(const InterfaceTrafficKey& key) noexcept {
    std::size_t h = hash_value(key.exporter);
    boost::hash_combine(h, (std::uint64_t{key.if_index} << 1) | (key.out ? 1u : 0u));
    return h;
}

std::size_t hash_value(const ConversationKey& key) noexcept {
    std::size_t h = hash_value(key.src);
    boost::hash_combine(h, hash_value(key.dst));
    return h;
}

ApplicationMap::ApplicationMap(const std::vector<ApplicationPorts>& extra) {
    for (const auto& app : kBuiltin) {
        const auto id = id_of(app.name);
        for (const auto port : app.ports) by_port_[port] = id;
    }
    for (const auto& app : extra) {  // configured names win over the built-in ones for their ports
        const auto id = id_of(app.name);
        for (const auto port : app.ports) by_port_[port] = id;
    }
}

std::uint8_t ApplicationMap::id_of(const std::string& name) {
    for (std::size_t i = 0; i < names_.size(); ++i)
        if (names_[i] == name) return static_cast<std::uint8_t>(i);
    if (names_.size() >= 255) return 0;  // config caps applications well below this
    names_.push_back(name);
    return static_cast<std::uint8_t>(names_.size() - 1);
}

std::uint8_t ApplicationMap::classify(const FlowRecord& r) const noexcept {
    if (r.proto != 6 && r.proto != 17 && r.proto != 132) return 0;
    // The server side usually has the lower port; try it first, then the other one.
    const auto low = std::min(r.src_port, r.dst_port);
    const auto high = std::max(r.src_port, r.dst_port);
    if (const auto id = by_port_[low]) return id;
    return by_port_[high];
}

std::string_view protocol_label(std::uint8_t proto) noexcept {
    switch (proto) {
        case 1:
            return "icmp";
        case 6:
            return "tcp";
        case 17:
            return "udp";
        case 47:
            return "gre";
        case 50:
            return "esp";
        case 58:
            return "icmpv6";
        case 132:
            return "sctp";
        default:
            return "other";
    }
}

void TrafficSnapshot::merge(const TrafficSnapshot& other, std::size_t k) {
    for (const auto& [key, totals] : other.interfaces) interfaces[key] += totals;
    other_interfaces += other.other_interfaces;
    for (std::size_t i = 0; i < protocols.size(); ++i) protocols[i] += other.protocols[i];
    if (applications.size() < other.applications.size()) applications.resize(other.applications.size());
    for (std::size_t i = 0; i < other.applications.size(); ++i) applications[i] += other.applications[i];
    merge_top(talkers, other.talkers, k);
    merge_top(destinations, other.destinations, k);
    merge_top(conversations, other.conversations, k);
    window_end_ns = std::max(window_end_ns, other.window_end_ns);
}

TrafficStats::TrafficStats(const MetricsConfig& config, const ApplicationMap& applications)
    : config_(config), applications_(applications) {
    snapshot_.applications.resize(applications.names().size());
}

template <class Map, class Key>
void TrafficStats::count_window(Map& map, const Key& key, std::uint64_t bytes) {
    if (auto it = map.find(key); it != map.end()) {
        it->second = saturating_add(it->second, bytes);
    } else if (map.size() < config_.max_window_keys) {
        map.emplace(key, bytes);
    }  // beyond the cap a new key cannot enter this window's ranking (its bytes still count everywhere else)
}

void TrafficStats::add(const FlowRecord& r) {
    const std::uint64_t scale = r.sampling_rate > 1 ? r.sampling_rate : 1;
    const TrafficTotals t{saturating_mul(r.bytes, scale), saturating_mul(r.packets, scale), 1};
    auto count_interface = [&](std::uint32_t if_index, bool out) {
        if (if_index == 0) return;
        const InterfaceTrafficKey key{r.sampler_address, if_index, out};
        if (auto it = snapshot_.interfaces.find(key); it != snapshot_.interfaces.end())
            it->second += t;
        else if (snapshot_.interfaces.size() < config_.max_interfaces * 2)
            snapshot_.interfaces.emplace(key, t);
        else
            snapshot_.other_interfaces += t;
    };
    count_interface(r.in_if, false);
    count_interface(r.out_if, true);
    snapshot_.protocols[r.proto] += t;
    snapshot_.applications[applications_.classify(r)] += t;
    count_window(window_src_, r.src_addr, t.bytes);
    count_window(window_dst_, r.dst_addr, t.bytes);
    count_window(window_pairs_, ConversationKey{r.src_addr, r.dst_addr}, t.bytes);
}

void TrafficStats::roll(std::uint64_t now_ns) {
    if (window_start_ns_ == 0) window_start_ns_ = now_ns;
    if (now_ns < window_start_ns_ + config_.top_window_ns) return;
    const auto k = config_.top_k;
    snapshot_.talkers = top_of(window_src_, k, [](const IpAddress& a, std::uint64_t b) { return TopEntry{a, {}, b}; });
    snapshot_.destinations = top_of(window_dst_, k, [](const IpAddress& a, std::uint64_t b) {
        return TopEntry{a, {}, b};
    });
    snapshot_.conversations = top_of(window_pairs_, k, [](const ConversationKey& c, std::uint64_t b) {
        return TopEntry{c.src, c.dst, b};
    });
    snapshot_.window_end_ns = now_ns;
    window_src_.clear();
    window_dst_.clear();
    window_pairs_.clear();
    window_start_ns_ = now_ns;
}

void TrafficStage::on_flows(std::span<const FlowRecord> records, std::uint64_t, Alerts&) {
    for (const auto& r : records) stats_.add(r);
}

void TrafficStage::publish() {
    auto snap = stats_.snapshot();  // copied outside the lock
    std::lock_guard lock(mutex_);
    published_ = std::move(snap);
}

TrafficSnapshot TrafficStage::published() const {
    std::lock_guard lock(mutex_);
    return published_;
}

void write_traffic_metrics(MetricSink& sink, std::span<const TrafficStage* const> shards,
                           const ApplicationMap& applications, ExporterLabels& labels, std::size_t top_k) {
    TrafficSnapshot t;
    for (const auto* shard : shards) t.merge(shard->published(), top_k);
    std::map<std::tuple<std::string, std::string, std::string>, TrafficTotals> by_interface;
    for (const auto& [key, totals] : t.interfaces)
        by_interface[{labels.exporter(key.exporter), labels.interface(key.exporter, key.if_index),
                      key.out ? "out" : "in"}] += totals;
    if (t.other_interfaces.flows != 0) by_interface[{"other", "other", "in"}] += t.other_interfaces;
    for (const auto& [l, totals] : by_interface)
        write_metrics(sink, totals, kInterfaceTraffic, {std::get<0>(l), std::get<1>(l), std::get<2>(l)});
    std::map<std::string_view, TrafficTotals> protocols;
    for (std::size_t p = 0; p < t.protocols.size(); ++p)
        if (t.protocols[p].flows != 0) protocols[protocol_label(static_cast<std::uint8_t>(p))] += t.protocols[p];
    for (const auto& [name, totals] : protocols) write_metrics(sink, totals, kProtocolTraffic, {name});
    const auto& names = applications.names();
    for (std::size_t a = 0; a < t.applications.size() && a < names.size(); ++a)
        if (t.applications[a].flows != 0) write_metrics(sink, t.applications[a], kApplicationTraffic, {names[a]});
    for (std::size_t r = 0; r < t.talkers.size(); ++r)
        sink.add("flowguard_top_talker_bytes", {std::to_string(r + 1), t.talkers[r].address.to_string()},
                 static_cast<double>(t.talkers[r].bytes));
    for (std::size_t r = 0; r < t.destinations.size(); ++r)
        sink.add("flowguard_top_destination_bytes", {std::to_string(r + 1), t.destinations[r].address.to_string()},
                 static_cast<double>(t.destinations[r].bytes));
    for (std::size_t r = 0; r < t.conversations.size(); ++r)
        sink.add("flowguard_top_conversation_bytes",
                 {std::to_string(r + 1), t.conversations[r].address.to_string(), t.conversations[r].peer.to_string()},
                 static_cast<double>(t.conversations[r].bytes));
}

void append_traffic_metric_specs(std::vector<MetricSpec>& catalog) {
    append_metric_specs(catalog, kInterfaceTraffic, {"exporter", "if_index", "direction"});
    append_metric_specs(catalog, kProtocolTraffic, {"protocol"});
    append_metric_specs(catalog, kApplicationTraffic, {"application"});
    catalog.push_back({"flowguard_top_talker_bytes",
                       MetricType::gauge,
                       "Top sources by bytes in the last complete window (metrics.top_window).",
                       {"rank", "address"}});
    catalog.push_back({"flowguard_top_destination_bytes",
                       MetricType::gauge,
                       "Top destinations by bytes in the last complete window.",
                       {"rank", "address"}});
    catalog.push_back({"flowguard_top_conversation_bytes",
                       MetricType::gauge,
                       "Top source/destination pairs by bytes in the last complete window.",
                       {"rank", "src", "dst"}});
}

}  // namespace flowguard::exporters
