#include <flowguard/analyzer/connections.hpp>
#include <flowguard/core/stalest.hpp>

#include <boost/container_hash/hash.hpp>

#include <algorithm>

namespace flowguard::analyzer {

std::size_t ConnectionTracker::KeyHash::operator()(const ConnectionKey& k) const noexcept {
    std::size_t h = hash_value(k.client);
    boost::hash_combine(h, hash_value(k.server));
    boost::hash_combine(h, std::uint64_t{k.client_port} << 24 | std::uint64_t{k.server_port} << 8 | k.proto);
    return h;
}

ConnectionTracker::ConnectionTracker(std::uint64_t timeout_ns, std::size_t max_connections)
    : timeout_ns_(timeout_ns), max_connections_(max_connections) {}

ConnectionTracker::Seen ConnectionTracker::observe(const ConnectionKey& key, std::uint64_t start_ns,
                                                   std::uint64_t end_ns, std::uint64_t bytes, bool syn) {
    end_ns = std::max(end_ns, start_ns);
    if (end_ns > latest_ns_) latest_ns_ = end_ns;
    if (latest_ns_ >= next_sweep_ns_) {
        if (next_sweep_ns_ != 0) sweep(latest_ns_);
        next_sweep_ns_ = latest_ns_ + timeout_ns_;
    }
    auto it = table_.find(key);
    if (it != table_.end()) {
        Connection& c = it->second;
        if (!syn && start_ns <= c.last_ns + timeout_ns_ && end_ns + timeout_ns_ >= c.start_ns) {
            c.last_ns = std::max(c.last_ns, end_ns);
            c.start_ns = std::min(c.start_ns, start_ns);
            c.bytes += bytes;
            ++c.records;
            return {&c, false};
        }
        it->second = Connection{start_ns, end_ns, bytes, 0, 1, 0, false};
        return {&it->second, true};
    }
    if (table_.size() >= max_connections_) evict();
    Connection& fresh = table_.emplace(key, Connection{start_ns, end_ns, bytes, 0, 1, 0, false}).first->second;
    return {&fresh, true};
}

void ConnectionTracker::sweep(std::uint64_t now_ns) {
    if (now_ns < timeout_ns_) return;
    const std::uint64_t quiet_before = now_ns - timeout_ns_;
    const std::size_t erased =
        boost::unordered::erase_if(table_, [&](const auto& e) { return e.second.last_ns < quiet_before; });
    churn_.erased(table_, erased);
}

void ConnectionTracker::evict() {
    sweep(latest_ns_);
    if (table_.size() < max_connections_) return;
    const std::size_t erased = erase_stalest_eighth(
        table_, [](const auto& e) { return e.second.last_ns; }, scratch_);
    evictions_ += erased;
    churn_.erased(table_, erased);
}

}  // namespace flowguard::analyzer
