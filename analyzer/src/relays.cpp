#include <flowguard/analyzer/relays.hpp>
#include <flowguard/core/config.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>

namespace flowguard::analyzer {
namespace {

constexpr std::uint64_t kLearningDayNs = 86'400'000'000'000ull;
constexpr std::size_t kMaxPortsLearning = 65'536;  // (server, port) pairs learned at once; a day's start clears
constexpr std::size_t kMaxCandidates = 4'096;
constexpr std::uint16_t kLowestDynamicPort = 32768;
// A client record may be stamped a little after its upstream's (two exporters' clocks, the answer direction's
// first packet): this much later still counts.
constexpr std::uint64_t kClockSlackNs = 100'000'000;

void add_port(std::vector<std::uint16_t>& ports, std::uint16_t port) {
    if (std::find(ports.begin(), ports.end(), port) == ports.end() && ports.size() < 8) ports.push_back(port);
}

RelayEntry relay_entry(const YAML::Node& node, const std::string& key) {
    if (!node.IsMap()) throw ConfigError(key, "expected a map with address and, for a proxy, ports");
    yaml::require_known_keys(node, key, {"address", "ports"});
    if (!node["address"]) throw ConfigError(key + ".address", "missing (the relay's address)");
    RelayEntry entry;
    const auto text = yaml::scalar(node["address"], key + ".address");
    const auto address = IpAddress::parse(text);
    if (!address) throw ConfigError(key + ".address", fmt::format("'{}' is not an IP address", text));
    entry.address = *address;
    if (const auto& ports = node["ports"]) {
        if (!ports.IsSequence()) throw ConfigError(key + ".ports", "expected a list of ports");
        for (std::size_t i = 0; i < ports.size(); ++i) {
            const auto port = yaml::unsigned_value(ports[i], fmt::format("{}.ports[{}]", key, i), 65535);
            if (port == 0) throw ConfigError(fmt::format("{}.ports[{}]", key, i), "must be 1..65535");
            entry.ports.push_back(static_cast<std::uint16_t>(port));
        }
        if (entry.ports.size() > 8) throw ConfigError(key + ".ports", "at most 8 ports per relay");
    }
    return entry;
}

}  // namespace

void read_relay_config(const YAML::Node& b, const std::string& bk, RelayConfig& relay) {
    if (const auto& list = b["relays"]) {
        if (!list.IsSequence()) throw ConfigError(bk + ".relays", "expected a list of relays");
        relay.relays.clear();
        for (std::size_t i = 0; i < list.size(); ++i)
            relay.relays.push_back(relay_entry(list[i], fmt::format("{}.relays[{}]", bk, i)));
    }
    if (b["relay_threshold"]) relay.threshold = yaml::unit_value(b["relay_threshold"], bk + ".relay_threshold");
    if (b["relay_min_clients"]) {
        relay.min_clients = yaml::unsigned_value(b["relay_min_clients"], bk + ".relay_min_clients", 8);
        if (relay.min_clients == 1) throw ConfigError(bk + ".relay_min_clients", "must be 0 (off) or 2..8");
    }
    if (b["relay_min_destinations"]) {
        relay.min_destinations = yaml::unsigned_value(b["relay_min_destinations"], bk + ".relay_min_destinations", 100);
        if (relay.min_destinations < 2) throw ConfigError(bk + ".relay_min_destinations", "must be 2..100");
    }
    if (b["relay_window"]) {
        relay.window_ns = yaml::duration_value(b["relay_window"], bk + ".relay_window");
        if (relay.window_ns == 0 || relay.window_ns > 30'000'000'000ull)
            throw ConfigError(bk + ".relay_window", "must be between 1ms and 30s");
    }
}

void write_relay_config(YAML::Emitter& out, const RelayConfig& relay) {
    out << YAML::Key << "relays" << YAML::Value << YAML::BeginSeq;
    for (const auto& entry : relay.relays) {
        out << YAML::Flow << YAML::BeginMap << YAML::Key << "address" << YAML::Value << entry.address.to_string();
        if (!entry.ports.empty()) out << YAML::Key << "ports" << YAML::Value << YAML::Flow << entry.ports;
        out << YAML::EndMap;
    }
    out << YAML::EndSeq << YAML::Key << "relay_threshold" << YAML::Value << relay.threshold << YAML::Key
        << "relay_min_clients" << YAML::Value << relay.min_clients << YAML::Key << "relay_min_destinations"
        << YAML::Value << relay.min_destinations << YAML::Key << "relay_window" << YAML::Value
        << yaml::milliseconds(relay.window_ns);
}

Relays::Relays(const RelayConfig& config) : config_(config) {
    for (const auto& entry : config_.relays) relays_[entry.address].ports = entry.ports;
}

bool Relays::proxies(const IpAddress& host) const {
    const auto it = relays_.find(host);
    return it != relays_.end() && !it->second.ports.empty();
}

void Relays::internal_connection(const IpAddress& client, std::uint16_t client_port, const IpAddress& server,
                                 std::uint16_t port, std::uint64_t time_ns) {
    const auto it = relays_.find(server);
    if (it != relays_.end()) {
        auto& ports = it->second.ports;
        if (std::find(ports.begin(), ports.end(), port) != ports.end())
            remember(it->second, client, client_port, time_ns);
        return;
    }
    if (config_.min_clients != 0) learn_port(client, server, port, time_ns);
}

void Relays::learn_port(const IpAddress& client, const IpAddress& server, std::uint16_t port, std::uint64_t time_ns) {
    if (port >= kLowestDynamicPort) return;  // peer-to-peer and RPC's dynamic ports: not a proxy's service
    const bool full = port_clients_.size() >= kMaxPortsLearning;
    if (time_ns >= port_clients_day_ns_ + kLearningDayNs || full) {
        learning_overflows_ += full && time_ns < port_clients_day_ns_ + kLearningDayNs;
        port_clients_.clear();  // a fresh day (or a flood of one-off services): learning starts over
        port_clients_day_ns_ = time_ns;
    }
    PortClients& p = port_clients_[PortKey{server, port}];
    std::size_t known = 0;
    std::size_t slot = p.client.size();
    for (std::size_t i = 0; i < p.client.size(); ++i) {
        if (p.noted_ns[i] == 0) {
            slot = std::min(slot, i);
            continue;
        }
        if (p.client[i] == client) return;  // already counted today
        ++known;
    }
    if (slot == p.client.size()) return;  // 8 clients known: as many as learning needs
    p.client[slot] = client;
    p.noted_ns[slot] = time_ns;
    if (known + 1 < config_.min_clients) return;
    auto candidate = candidates_.find(server);
    if (candidate == candidates_.end()) {
        if (candidates_.size() >= kMaxCandidates) {
            ++learning_overflows_;
            return;
        }
        candidate = candidates_.emplace(server, Candidate{}).first;
    }
    add_port(candidate->second.ports, port);
}

void Relays::outbound_destination(const IpAddress& host, const IpAddress& destination, std::uint64_t time_ns) {
    if (candidates_.empty()) return;
    const auto it = candidates_.find(host);
    if (it == candidates_.end()) return;
    Candidate& c = it->second;
    if (time_ns >= c.day_start_ns + kLearningDayNs) {
        c.destinations = {};
        c.day_start_ns = time_ns;
    }
    const std::size_t bit = hash_value(destination) % 128;
    c.destinations[bit / 64] |= std::uint64_t{1} << (bit % 64);
    if (distinct(c.destinations) < config_.min_destinations) return;
    if (relays_.size() < config_.relays.size() + kMaxLearned) {
        relays_[host].ports = c.ports;
        ++learned_;
    } else {
        ++learning_overflows_;
    }
    candidates_.erase(it);
}

std::size_t Relays::distinct(const std::array<std::uint64_t, 2>& bitmap) noexcept {
    // Linear counting: n ~ -m ln(zero bits / m), good to within a few percent up to ~150 destinations.
    const int set = std::popcount(bitmap[0]) + std::popcount(bitmap[1]);
    if (set >= 127) return 1000;
    return static_cast<std::size_t>(std::lround(-128.0 * std::log((128.0 - set) / 128.0)));
}

void Relays::remember(Relay& relay, const IpAddress& client, std::uint16_t client_port, std::uint64_t time_ns) {
    // Both records of one connection (the request and the proxy's answer) may come: the connection counts once.
    for (std::size_t back = 1; back <= 4; ++back) {
        const ClientStart& r = relay.recent[(relay.head + kRecent - back) % kRecent];
        if (r.client == client && r.client_port == client_port && r.time_ns + config_.window_ns >= time_ns &&
            time_ns + config_.window_ns >= r.time_ns)
            return;
    }
    relay.recent[relay.head] = {time_ns, client, client_port, false};
    relay.head = (relay.head + 1) % kRecent;
}

void Relays::upstream(const RelayedStart& start) {
    const auto it = relays_.find(start.relay);
    if (it == relays_.end()) return;
    auto& waiting = it->second.waiting;
    waiting.push_back(start);
    // A busy proxy: more waiting than the ring of client starts keeps, so the oldest is decided at the next
    // call with what is known (bounded memory, whatever the rate).
    next_decide_ns_ = waiting.size() > kRecent ? 0 : std::min(next_decide_ns_, start.time_ns + kDecideAfterNs);
}

RelayedStart Relays::decide_one(Relay& relay, RelayedStart start) {
    ClientStart* chosen = nullptr;
    bool several = false;
    for (auto& r : relay.recent) {
        if (r.claimed || r.time_ns == 0 || r.time_ns + config_.window_ns < start.time_ns ||
            r.time_ns > start.time_ns + kClockSlackNs)
            continue;
        if (chosen != nullptr && chosen->client != r.client) several = true;
        if (chosen == nullptr || r.time_ns > chosen->time_ns) chosen = &r;  // the latest before it
    }
    if (chosen == nullptr || several) {
        ++unattributed_;
        return start;
    }
    chosen->claimed = true;  // a client connection carries one upstream (one CONNECT)
    start.client = chosen->client;
    ++attributed_;
    return start;
}

void Relays::decide(std::uint64_t now_ns, std::vector<RelayedStart>& out) {
    if (now_ns < next_decide_ns_) return;
    next_decide_ns_ = UINT64_MAX;
    for (auto& [address, relay] : relays_) {
        auto& waiting = relay.waiting;
        std::size_t kept = 0;
        for (std::size_t i = 0; i < waiting.size(); ++i) {
            const bool overflow = waiting.size() - i > kRecent;  // more waiting than the ring keeps: decide now
            if (!overflow && waiting[i].time_ns + kDecideAfterNs > now_ns) {
                next_decide_ns_ = std::min(next_decide_ns_, waiting[i].time_ns + kDecideAfterNs);
                waiting[kept++] = waiting[i];
                continue;
            }
            out.push_back(decide_one(relay, waiting[i]));
        }
        waiting.resize(kept);
    }
}

RelayCounters Relays::counters() const noexcept {
    return {relays_.size(), learned_, attributed_, unattributed_, learning_overflows_};
}

}  // namespace flowguard::analyzer
