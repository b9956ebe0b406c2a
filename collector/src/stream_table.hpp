#pragma once
// Private: the exporter streams one decoder knows, within collector.max_streams and, per exporter address,
// collector.max_streams_per_exporter. A full table makes room instead of refusing: a flood of spoofed
// sources must never lock out an exporter that appears later. What makes room, first to last:
//   1. the least recently active stream on probation (it has not yet decoded records in 4 datagrams: spoofed
//      headers, data for templates that never come, a one-off datagram);
//   2. the least recently active proven stream (proven streams keep at most 3/4 of the table, so newcomers
//      always find probation room to prove themselves in);
//   never a pinned stream (an exporter named in collector.exporters).
// An address at its own cap gives up its own least recently active stream: an exporter that restarts on a new
// source port replaces its old stream, and one address cannot fill the table. That holds for pinned addresses
// too, so datagrams spoofed from a configured exporter's address cannot fill the table with pinned streams.
#include "pending_store.hpp"
#include "stream_state.hpp"

#include <flowguard/collector/flow_decoder.hpp>
#include <flowguard/core/flat_map_rebuild.hpp>

#include <boost/intrusive/list.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include <cstdint>
#include <functional>
#include <memory>

namespace flowguard::collector {

// The streams of one exporter address, least recently active first (StreamState::address_list points here).
struct StreamAddressList
    : boost::intrusive::list<StreamState,
                             boost::intrusive::member_hook<StreamState, StreamHook, &StreamState::address_hook>,
                             boost::intrusive::constant_time_size<true>> {};

class StreamTable {
public:
    // Called with each stream before it is dropped (its counters and templates go with it).
    using EvictedHandler = std::function<void(StreamState&)>;

    StreamTable(std::size_t max_streams, std::size_t max_per_address, EvictedHandler evicted);
    ~StreamTable();
    StreamTable(const StreamTable&) = delete;
    StreamTable& operator=(const StreamTable&) = delete;

    StreamState* find(const StreamKey& key) noexcept {
        auto it = streams_.find(key);
        return it == streams_.end() ? nullptr : it->second.get();
    }
    // Adds a stream, making room first. nullptr only when every stream that could make room is pinned.
    StreamState* add(const StreamKey& key, SequenceTracker tracker, bool pinned);

    // After each datagram of the stream: it becomes the most recently active, proven after enough datagrams
    // with records.
    void touch(StreamState& s, bool decoded_records) noexcept;
    // A stream known proven before a restart (the template state file says so) skips probation.
    void prove(StreamState& s) noexcept;

    // Drops the least valuable stream other than `keep` (probation first; proven ones only if allowed), to
    // free what it holds. False when there is none.
    bool evict_one(const StreamState* keep, bool may_evict_proven);

    std::size_t size() const noexcept { return streams_.size(); }
    std::uint64_t evicted() const noexcept { return evicted_; }

    template <typename Visit>
    void for_each(Visit&& visit) const {
        for (const auto& [key, s] : streams_) visit(key, *s);
    }

private:
    using AgeList =
        boost::intrusive::list<StreamState,
                               boost::intrusive::member_hook<StreamState, StreamHook, &StreamState::age_hook>,
                               boost::intrusive::constant_time_size<true>>;
    using AddressList = StreamAddressList;

    AgeList* list_of(const StreamState& s) noexcept;
    void promote(StreamState& s) noexcept;
    AddressList& address_list(const IpAddress& address);
    StreamState* least_valuable(const StreamState* keep, bool may_evict_proven) noexcept;
    void evict(StreamState& s);
    void make_room_for(const StreamKey& key);

    std::size_t max_streams_;
    std::size_t max_per_address_;
    std::size_t max_proven_;
    EvictedHandler evicted_handler_;
    boost::unordered_flat_map<StreamKey, std::unique_ptr<StreamState>, StreamKeyHash> streams_;
    boost::unordered_flat_map<IpAddress, std::unique_ptr<AddressList>, boost::hash<IpAddress>> addresses_;
    AgeList probation_;
    AgeList proven_;
    ChurnCounter stream_churn_;
    ChurnCounter address_churn_;
    std::uint64_t evicted_ = 0;
};

}  // namespace flowguard::collector
