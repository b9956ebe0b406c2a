#include "pending_store.hpp"

#include <malloc.h>

#include <algorithm>

namespace flowguard::collector {

PendingSet::PendingSet(const TemplateKey& k, const PacketContext& c, const std::uint8_t* body, std::size_t size)
    : key(k),
      context(c),
      length(static_cast<std::uint32_t>(size)),
      padded(std::make_unique<std::uint8_t[]>(kDecodeLeadingBytes + size)) {
    std::copy_n(body, size, padded.get() + kDecodeLeadingBytes);
}

PendingStore::Hold PendingStore::hold(const TemplateKey& key, const PacketContext& context, const std::uint8_t* body,
                                      std::size_t length, const std::function<void(const PendingSet&)>& dropped) {
    const std::size_t cost = cost_of(length);
    if (cost > limits_.max_bytes) return Hold::too_large;
    if (auto it = by_template_.find(key);
        it != by_template_.end() && it->second.size() >= limits_.max_sets_per_template)
        return Hold::template_full;
    while (!sets_.empty() && cost_ + cost > limits_.max_bytes) drop_oldest(dropped);
    sets_.emplace_back(key, context, body, length);
    // Looked up after the drops: a drop may have removed this template's entry.
    by_template_[key].push_back(std::prev(sets_.end()));
    cost_ += cost;
    peak_cost_ = std::max(peak_cost_, cost_);
    return Hold::held;
}

void PendingStore::release(const TemplateKey& key, const std::function<void(const PendingSet&)>& decode) {
    auto entry = by_template_.find(key);
    if (entry == by_template_.end()) return;
    const auto held = std::move(entry->second);
    by_template_.erase(entry);
    for (const auto it : held) {
        decode(*it);
        cost_ -= cost_of(it->size());
        sets_.erase(it);
    }
    shrink_when_empty();
}

void PendingStore::expire(std::uint64_t now_ns, const std::function<void(const PendingSet&)>& dropped) {
    while (!sets_.empty() && now_ns > sets_.front().context.received_ns + limits_.max_age_ns) drop_oldest(dropped);
    shrink_when_empty();
}

void PendingStore::drop_all(const std::function<void(const PendingSet&)>& dropped) {
    while (!sets_.empty()) drop_oldest(dropped);
    shrink_when_empty();
}

void PendingStore::drop_oldest(const std::function<void(const PendingSet&)>& dropped) {
    const auto oldest = sets_.begin();
    dropped(*oldest);
    auto entry = by_template_.find(oldest->key);
    auto& held = entry->second;
    held.erase(held.begin());  // at most max_sets_per_template slots move
    if (held.empty()) by_template_.erase(entry);
    cost_ -= cost_of(oldest->size());
    sets_.erase(oldest);
}

// A flood leaves the index's table at its peak size (flat maps never shrink) and the freed sets in malloc's
// free lists: both are handed back once nothing is held, so memory returns to what valid traffic needs.
void PendingStore::shrink_when_empty() {
    constexpr std::size_t kWorthReturning = 1u << 20;
    if (!sets_.empty()) return;
    if (peak_cost_ >= kWorthReturning) {
        by_template_ = {};
        malloc_trim(0);
    }
    peak_cost_ = 0;
}

}  // namespace flowguard::collector
