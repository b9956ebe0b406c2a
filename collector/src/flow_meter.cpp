#include "expiry_wheel.hpp"

#include <flowguard/collector/flow_meter.hpp>
#include <flowguard/core/stalest.hpp>

#include <boost/container_hash/hash.hpp>

#include <algorithm>
#include <cstring>

namespace flowguard::collector {
namespace {

constexpr std::uint64_t kSweepInterval = 1'000'000'000;  // ns of packet time between timeout sweeps
constexpr std::uint8_t kTcpFin = 0x01;
constexpr std::uint8_t kTcpRst = 0x04;

std::uint64_t word(const std::uint8_t* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

}  // namespace

// Whole 8-byte words of both addresses, then the rest: boost::hash_combine as elsewhere in the collector
// (the flat map mixes the result once more).
std::size_t hash_addresses(const std::array<std::uint8_t, 16>& src, const std::array<std::uint8_t, 16>& dst) noexcept {
    std::size_t h = 0;
    for (const auto* bytes : {src.data(), src.data() + 8, dst.data(), dst.data() + 8})
        boost::hash_combine(h, word(bytes));
    return h;
}

std::size_t FlowMeter::KeyHash::operator()(const Key& key) const noexcept {
    std::size_t h = hash_addresses(key.src, key.dst);
    boost::hash_combine(h, std::uint64_t{key.src_port} << 32 | std::uint64_t{key.dst_port} << 16 | key.vlan);
    boost::hash_combine(h, std::uint64_t{key.proto} << 8 | key.family);
    return h;
}

std::size_t FlowMeter::FragmentKeyHash::operator()(const FragmentKey& key) const noexcept {
    std::size_t h = hash_addresses(key.src, key.dst);
    boost::hash_combine(h, std::uint64_t{key.id} << 8 | key.proto);
    return h;
}

FlowMeter::FlowMeter(const MeterConfig& config, IpAddress observer)
    : config_(config),
      observer_(observer),
      wheel_(std::make_unique<ExpiryWheel<Key>>(
          std::max({config.active_timeout_ns, config.idle_timeout_ns, config.tcp_end_timeout_ns}))) {
    flows_.reserve(std::min<std::size_t>(config_.max_flows, 1u << 16));
}

FlowMeter::~FlowMeter() = default;
std::size_t FlowMeter::timer_entries() const noexcept {
    return wheel_->size();
}
FlowMeter::FlowMeter(FlowMeter&&) noexcept = default;
FlowMeter& FlowMeter::operator=(FlowMeter&&) noexcept = default;

bool FlowMeter::attribute_fragment(const PacketView& packet, Key& key) {
    FragmentKey fragment{packet.src.bytes(), packet.dst.bytes(), packet.fragment_id, packet.proto};
    if (packet.fragment == FragmentKind::first) {
        if (fragments_.size() >= config_.max_fragments) {
            fragments_.clear();  // rare: a flood of fragments; later ones of the lost ids go unmatched
            ++stats_.fragment_table_resets;
        }
        fragments_[fragment] = Ports{packet.src_port, packet.dst_port};
        return true;
    }
    const auto it = fragments_.find(fragment);
    if (it == fragments_.end()) {
        ++stats_.fragments_unmatched;  // counted in a flow without ports, as exporters do
        return false;
    }
    key.src_port = it->second.src;
    key.dst_port = it->second.dst;
    return true;
}

void FlowMeter::add(const PacketView& packet, std::uint64_t time_ns, std::vector<FlowRecord>& expired) {
    if (time_ns > clock_ns_) clock_ns_ = time_ns;
    if (clock_ns_ >= next_sweep_ns_) {
        expire(clock_ns_, expired);
        next_sweep_ns_ = clock_ns_ + kSweepInterval;
    }
    Key key{packet.src.bytes(),
            packet.dst.bytes(),
            packet.src_port,
            packet.dst_port,
            packet.vlan,
            packet.proto,
            static_cast<std::uint8_t>(packet.src.family())};
    if (packet.fragment != FragmentKind::none) attribute_fragment(packet, key);
    ++stats_.packets;
    stats_.bytes += packet.l3_length;

    auto it = flows_.find(key);
    if (it != flows_.end() && time_ns >= it->second.first_ns + config_.active_timeout_ns) {
        emit(it->first, it->second, FlowEndReason::active, time_ns, expired);  // long flow: report and restart
        flows_.erase(it);
        it = flows_.end();
    }
    if (it == flows_.end()) {
        if (flows_.size() >= config_.max_flows) evict_stalest(time_ns, expired);
        it = flows_
                 .emplace(key, Flow{time_ns, time_ns, 0, 0, packet.src_mac, packet.dst_mac, packet.flow_label, 0,
                                    packet.tos, packet.ttl, packet.icmp_type, packet.icmp_code, false, 0})
                 .first;
        ++stats_.flows_created;
        arm(key, it->second, deadline(it->second));
    }
    Flow& flow = it->second;
    // A deadline only moves later as packets come, and the wheel's entry is looked at (and armed again) when
    // it comes due. It moves earlier on the first FIN/RST (the short grace) and when a packet out of order
    // starts the flow earlier (its active timeout): then the flow is armed again.
    bool earlier = false;
    if (time_ns < flow.first_ns) {
        flow.first_ns = time_ns;
        earlier = true;
    }
    if (time_ns > flow.last_ns) flow.last_ns = time_ns;
    ++flow.packets;
    flow.bytes += packet.l3_length;
    flow.tcp_flags |= packet.tcp_flags;
    if (packet.proto == 6 && (packet.tcp_flags & (kTcpFin | kTcpRst)) && !flow.ended) {
        flow.ended = true;
        earlier = true;
    }
    if (earlier) {
        const std::uint64_t due = deadline(flow);
        if (due < flow.armed_ns) arm(key, flow, due);
    }
}

std::uint64_t FlowMeter::deadline(const Flow& flow) const noexcept {
    const std::uint64_t quiet = flow.last_ns + (flow.ended ? config_.tcp_end_timeout_ns : config_.idle_timeout_ns);
    return std::min(quiet, flow.first_ns + config_.active_timeout_ns);
}

void FlowMeter::arm(const Key& key, Flow& flow, std::uint64_t deadline_ns) {
    flow.armed_ns = deadline_ns;
    wheel_->arm(deadline_ns, key);
    // Memory stays proportional to the table: with more stale entries than flows, they go (amortised O(1)).
    if (wheel_->size() > 2 * flows_.size() + 4096) {
        wheel_->drop_stale([this](const auto& entry) {
            const auto it = flows_.find(entry.key);
            return it != flows_.end() && it->second.armed_ns == entry.deadline_ns;
        });
    }
}

// An entry of the wheel came due: the flow it was armed for ends now if one of its timeouts passed (the same
// order of reasons as ever), or is armed again for its current deadline. Entries of flows that ended
// otherwise, or were armed again since, are stale.
void FlowMeter::look_at(const Key& key, std::uint64_t armed_ns, std::uint64_t now_ns,
                        std::vector<FlowRecord>& expired) {
    const auto it = flows_.find(key);
    if (it == flows_.end() || it->second.armed_ns != armed_ns) return;
    Flow& flow = it->second;
    FlowEndReason reason;
    if (flow.ended && now_ns >= flow.last_ns + config_.tcp_end_timeout_ns) {
        reason = FlowEndReason::end_of_flow;
    } else if (now_ns >= flow.last_ns + config_.idle_timeout_ns) {
        reason = FlowEndReason::idle;
    } else if (now_ns >= flow.first_ns + config_.active_timeout_ns) {
        reason = FlowEndReason::active;
    } else {
        arm(key, flow, deadline(flow));
        return;
    }
    emit(it->first, flow, reason, now_ns, expired);
    flows_.erase(it);
}

void FlowMeter::expire(std::uint64_t now_ns, std::vector<FlowRecord>& expired) {
    wheel_->advance(now_ns, [&](const auto& entry) { look_at(entry.key, entry.deadline_ns, now_ns, expired); });
}

void FlowMeter::flush(std::vector<FlowRecord>& expired) {
    for (const auto& [key, flow] : flows_) {
        emit(key, flow, flow.ended ? FlowEndReason::end_of_flow : FlowEndReason::forced, clock_ns_, expired);
    }
    flows_.clear();
    fragments_.clear();
    wheel_->clear();
}

// The table is full: end the stalest eighth of its flows at once (reported, counted).
void FlowMeter::evict_stalest(std::uint64_t now_ns, std::vector<FlowRecord>& expired) {
    const std::uint64_t threshold = stalest_eighth_cutoff(
        flows_, [](const auto& entry) { return entry.second.last_ns; }, scratch_);
    boost::unordered::erase_if(flows_, [&](auto& entry) {
        if (entry.second.last_ns > threshold) return false;
        emit(entry.first, entry.second, FlowEndReason::lack_of_resources, now_ns, expired);
        ++stats_.evictions;
        return true;
    });
}

void FlowMeter::emit(const Key& key, const Flow& flow, FlowEndReason reason, std::uint64_t now_ns,
                     std::vector<FlowRecord>& out) {
    FlowRecord& r = out.emplace_back();
    r.type = FlowType::meter;
    r.time_received_ns = now_ns;
    r.sampler_address = observer_;
    r.sampling_rate = 1;
    r.time_flow_start_ns = flow.first_ns;
    r.time_flow_end_ns = flow.last_ns;
    r.packets = flow.packets;
    r.bytes = flow.bytes;
    if (key.family == static_cast<std::uint8_t>(IpAddress::Family::v4)) {
        r.src_addr.assign_v4(key.src.data() + 12);
        r.dst_addr.assign_v4(key.dst.data() + 12);
        r.etype = kEtherTypeIPv4;
    } else {
        r.src_addr.assign_v6(key.src.data());
        r.dst_addr.assign_v6(key.dst.data());
        r.etype = kEtherTypeIPv6;
    }
    r.proto = key.proto;
    r.src_port = key.src_port;
    r.dst_port = key.dst_port;
    r.src_vlan = key.vlan;
    r.src_mac = flow.src_mac;
    r.dst_mac = flow.dst_mac;
    r.ipv6_flow_label = flow.flow_label;
    r.ip_tos = flow.tos;
    r.ip_ttl = flow.ttl;
    r.tcp_flags = flow.tcp_flags;
    r.icmp_type = flow.icmp_type;
    r.icmp_code = flow.icmp_code;
    r.flow_end_reason = static_cast<std::uint8_t>(reason);
    ++stats_.flows_expired;
}

}  // namespace flowguard::collector
