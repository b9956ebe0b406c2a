#pragma once
// The routing policy: which shard a record or DNS event belongs to.
#include <flowguard/core/dns_event.hpp>
#include <flowguard/core/flow_record.hpp>
#include <flowguard/core/network_set.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>

namespace flowguard::pipeline {

// Chooses the shard of a record: the internal side of the conversation (source if both or neither are
// internal), so that all state about one internal host lives in one shard.
class ShardRouter {
public:
    ShardRouter(NetworkSet internal, std::size_t shards) : internal_(std::move(internal)), shards_(shards) {}
    std::size_t shard_of(const FlowRecord& r) const noexcept {
        if (shards_ == 1) return 0;
        const auto& host =
            (!internal_.contains(r.src_addr) && internal_.contains(r.dst_addr)) ? r.dst_addr : r.src_addr;
        return index_of(host);
    }
    // DNS events belong with the client that asked: its flows and its DNS beacons share one shard.
    std::size_t shard_of(const DnsEvent& e) const noexcept { return shards_ == 1 ? 0 : index_of(e.client); }
    std::size_t shards() const noexcept { return shards_; }

private:
    std::size_t index_of(const IpAddress& host) const noexcept {
        const auto h = static_cast<std::uint64_t>(hash_value(host)) >> 32;
        return static_cast<std::size_t>((h * shards_) >> 32);  // multiply-shift: no division per record
    }
    NetworkSet internal_;
    std::size_t shards_;
};

}  // namespace flowguard::pipeline
