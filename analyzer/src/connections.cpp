#include <flowguard/analyzer/connections.hpp>
#include <flowguard/core/stalest.hpp>

#include <boost/container_hash/hash.hpp>

#include <algorithm>

namespace flowguard::analyzer {
namespace {

Connection opened(std::uint64_t start_ns, std::uint64_t end_ns, std::uint64_t bytes) {
    Connection c;
    c.start_ns = start_ns;
    c.last_ns = end_ns;
    c.bytes = bytes;
    c.records = 1;
    return c;
}

}  // namespace

std::size_t ConnectionTracker::KeyHash::operator()(const ConnectionKey& k) const noexcept {
    std::size_t h = hash_value(k.client);
    boost::hash_combine(h, hash_value(k.server));
    boost::hash_combine(h, std::uint64_t{k.client_port} << 24 | std::uint64_t{k.server_port} << 8 | k.proto);
    return h;
}

ConnectionTracker::ConnectionTracker(std::uint64_t timeout_ns, std::size_t max_connections)
    : timeout_ns_(timeout_ns), max_connections_(max_connections) {
    table_.reserve(max_connections_);  // no rehash on the hot path; slots' memory is touched only when used
}

ConnectionTracker::Seen ConnectionTracker::observe(const ConnectionKey& key, std::uint64_t start_ns,
                                                   std::uint64_t end_ns, std::uint64_t bytes, bool syn, bool ended) {
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
            if (!ended) return {&c, false};
            scratch_connection_ = c;  // its last record: the caller still sees the whole connection
            table_.erase(it);
            return {&scratch_connection_, false};
        }
        if (!ended) {
            it->second = opened(start_ns, end_ns, bytes);
            return {&it->second, true};
        }
        table_.erase(it);
    } else if (!ended) {
        if (table_.size() >= max_connections_) evict();
        Connection& fresh = table_.emplace(key, opened(start_ns, end_ns, bytes)).first->second;
        return {&fresh, true};
    }
    scratch_connection_ = opened(start_ns, end_ns, bytes);  // whole in one record
    return {&scratch_connection_, true};
}

void ConnectionTracker::sweep(std::uint64_t now_ns) {
    if (now_ns < timeout_ns_) return;
    const std::uint64_t quiet_before = now_ns - timeout_ns_;
    boost::unordered::erase_if(table_, [&](const auto& e) { return e.second.last_ns < quiet_before; });
}

void ConnectionTracker::evict() {
    // Quiet connections go every timeout anyway (observe's sweep): full means live ones, the stalest go.
    evictions_ += erase_stalest_eighth(
        table_, [](const auto& e) { return e.second.last_ns; }, scratch_);
}

}  // namespace flowguard::analyzer
