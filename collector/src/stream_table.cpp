#include "stream_table.hpp"

#include <algorithm>

namespace flowguard::collector {

StreamTable::StreamTable(std::size_t max_streams, std::size_t max_per_address, EvictedHandler evicted)
    : max_streams_(std::max<std::size_t>(max_streams, 1)),
      max_per_address_(std::max<std::size_t>(max_per_address, 1)),
      max_proven_(std::max<std::size_t>(max_streams_ - max_streams_ / 4, 1)),
      evicted_handler_(std::move(evicted)) {}

StreamTable::~StreamTable() {
    // The lists only link streams the map owns: unlink them before the map frees the streams.
    probation_.clear();
    proven_.clear();
    for (auto& [address, list] : addresses_) list->clear();
}

StreamTable::AgeList* StreamTable::list_of(const StreamState& s) noexcept {
    switch (s.standing) {
        case StreamState::Standing::probation:
            return &probation_;
        case StreamState::Standing::proven:
            return &proven_;
        case StreamState::Standing::pinned:
            break;
    }
    return nullptr;
}

StreamTable::AddressList& StreamTable::address_list(const IpAddress& address) {
    auto& list = addresses_[address];
    if (!list) list = std::make_unique<AddressList>();
    return *list;
}

StreamState* StreamTable::add(const StreamKey& key, SequenceTracker tracker, bool pinned) {
    make_room_for(key);
    if (streams_.size() >= max_streams_) return nullptr;  // every stream is pinned
    auto owned = std::make_unique<StreamState>(key, tracker);
    StreamState& s = *owned;
    streams_.emplace(key, std::move(owned));
    if (pinned)
        s.standing = StreamState::Standing::pinned;
    else
        probation_.push_back(s);
    s.address_list = &address_list(key.exporter);
    s.address_list->push_back(s);
    return &s;
}

void StreamTable::make_room_for(const StreamKey& key) {
    if (auto it = addresses_.find(key.exporter); it != addresses_.end() && it->second->size() >= max_per_address_)
        evict(it->second->front());
    while (streams_.size() >= max_streams_)
        if (!evict_one(nullptr, true)) return;
}

namespace {

template <typename List>
void move_to_back(List& list, StreamState& s) noexcept {
    if (&list.back() != &s) list.splice(list.end(), list, list.iterator_to(s));
}

}  // namespace

void StreamTable::touch(StreamState& s, bool decoded_records) noexcept {
    move_to_back(*s.address_list, s);
    if (s.standing == StreamState::Standing::pinned) return;
    const bool proven_now = decoded_records && s.standing == StreamState::Standing::probation &&
                            ++s.datagrams_with_records >= StreamState::kProvenDatagrams;
    if (!proven_now) {
        move_to_back(*list_of(s), s);
        return;
    }
    promote(s);
}

void StreamTable::prove(StreamState& s) noexcept {
    if (s.standing == StreamState::Standing::probation) promote(s);
}

void StreamTable::promote(StreamState& s) noexcept {
    probation_.erase(probation_.iterator_to(s));
    s.standing = StreamState::Standing::proven;
    proven_.push_back(s);
    if (proven_.size() > max_proven_) {  // the least active proven stream goes back on probation
        auto& demoted = proven_.front();
        proven_.pop_front();
        demoted.standing = StreamState::Standing::probation;
        demoted.datagrams_with_records = 0;
        probation_.push_back(demoted);
    }
}

StreamState* StreamTable::least_valuable(const StreamState* keep, bool may_evict_proven) noexcept {
    for (auto* list : {&probation_, may_evict_proven ? &proven_ : nullptr}) {
        if (list == nullptr) continue;
        for (auto it = list->begin(); it != list->end(); ++it)
            if (&*it != keep) return &*it;  // `keep` is at most one of them
    }
    return nullptr;
}

bool StreamTable::evict_one(const StreamState* keep, bool may_evict_proven) {
    StreamState* victim = least_valuable(keep, may_evict_proven);
    if (victim == nullptr) return false;
    evict(*victim);
    return true;
}

void StreamTable::evict(StreamState& s) {
    evicted_handler_(s);
    ++evicted_;
    if (auto* list = list_of(s)) list->erase(list->iterator_to(s));
    s.address_list->erase(s.address_list->iterator_to(s));
    if (s.address_list->empty()) {
        addresses_.erase(s.key.exporter);
        address_churn_.erased(addresses_);
    }
    const StreamKey key = s.key;  // `s` dies with its map entry
    streams_.erase(key);
    stream_churn_.erased(streams_);
}

}  // namespace flowguard::collector
