#include <flowguard/analyzer/popularity.hpp>
#include <flowguard/core/stalest.hpp>

#include <boost/container_hash/hash.hpp>

#include <algorithm>

namespace flowguard::analyzer {

std::size_t Popularity::KeyHash::operator()(const DestinationKey& k) const noexcept {
    std::size_t h = hash_value(k.address);
    boost::hash_combine(h, std::uint64_t{k.domain} << 24 | std::uint64_t{k.port} << 8 | k.kind);
    return h;
}

Popularity::Popularity(std::uint64_t window_ns, std::size_t max_targets)
    : window_ns_(window_ns), max_targets_(max_targets) {}

void Popularity::note(const DestinationKey& target, const IpAddress& client, std::uint64_t now_ns) {
    auto it = targets_.find(target);
    if (it == targets_.end()) {
        if (targets_.size() >= max_targets_) evict();
        it = targets_.emplace(target, Clients{}).first;
    }
    Clients& c = it->second;
    c.latest_ns = std::max(c.latest_ns, now_ns);
    std::size_t slot = 0;
    for (; slot < c.count; ++slot)
        if (c.client[slot] == client) break;
    if (slot == c.count) {
        if (c.count < kClientsKept) {
            ++c.count;
        } else {  // full: the client noted longest ago makes room
            slot =
                static_cast<std::size_t>(std::min_element(c.noted_ns.begin(), c.noted_ns.end()) - c.noted_ns.begin());
        }
        c.client[slot] = client;
        c.noted_ns[slot] = 0;
    }
    c.noted_ns[slot] = std::max(c.noted_ns[slot], now_ns);
}

std::size_t Popularity::clients(const DestinationKey& target, std::uint64_t now_ns) const {
    const auto it = targets_.find(target);
    if (it == targets_.end()) return 0;
    const Clients& c = it->second;
    std::size_t n = 0;
    for (std::size_t i = 0; i < c.count; ++i)
        if (c.noted_ns[i] + window_ns_ >= now_ns) ++n;
    return n;
}

void Popularity::evict() {
    const std::size_t erased = erase_stalest_eighth(
        targets_, [](const auto& e) { return e.second.latest_ns; }, scratch_);
    churn_.erased(targets_, erased);
}

}  // namespace flowguard::analyzer
