#pragma once
// Private: data sets that arrived before their template, held until it comes, until they are too old, or
// until newer ones need the room. Everything a held set costs is charged against the byte cap (its body,
// its list node, its slot in the per-template index), so a flood of empty sets is bounded as tightly as a
// flood of large ones. A template's sets are found through their own index: releasing them costs what they
// are, not what the whole store holds.
#include "stream_state.hpp"

#include <flowguard/collector/config.hpp>
#include <flowguard/collector/flow_decoder.hpp>

#include <boost/container_hash/hash.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <vector>

namespace flowguard::collector {

struct TemplateKey {
    StreamKey stream;
    std::uint16_t id = 0;
    friend bool operator==(const TemplateKey&, const TemplateKey&) = default;
};

struct StreamKeyHash {
    std::size_t operator()(const StreamKey& k) const noexcept {
        std::size_t h = hash_value(k.exporter);
        boost::hash_combine(h, (std::uint64_t{k.port} << 48) | (std::uint64_t{k.version} << 32) | k.domain);
        return h;
    }
};

struct TemplateKeyHash {
    std::size_t operator()(const TemplateKey& k) const noexcept {
        std::size_t h = StreamKeyHash{}(k.stream);
        boost::hash_combine(h, k.id);
        return h;
    }
};

struct PendingSet {
    TemplateKey key;
    PacketContext context;
    std::uint32_t length = 0;
    // kDecodeLeadingBytes of zeros, then the set's body: a fixed-length decode reads a little before each
    // field, which inside a packet falls on its headers.
    std::unique_ptr<std::uint8_t[]> padded;

    PendingSet(const TemplateKey& k, const PacketContext& c, const std::uint8_t* body, std::size_t size);
    const std::uint8_t* body() const noexcept { return padded.get() + kDecodeLeadingBytes; }
    std::size_t size() const noexcept { return length; }
};

class PendingStore {
public:
    // What holding one set costs beyond its body: the list node, the body's allocation header and leading
    // bytes, and its share of the per-template index (an entry per template, a slot per set).
    static constexpr std::size_t kSetOverhead = sizeof(PendingSet) + 2 * sizeof(void*) + 16 + kDecodeLeadingBytes + 96;

    explicit PendingStore(const PendingDataLimits& limits) : limits_(limits) {}

    enum class Hold { held, template_full, too_large };
    // Holds a copy of the set, dropping the oldest sets (through `dropped`) while the new one does not fit.
    Hold hold(const TemplateKey& key, const PacketContext& context, const std::uint8_t* body, std::size_t length,
              const std::function<void(const PendingSet&)>& dropped);

    // Hands the template's sets to `decode` in arrival order and forgets them.
    void release(const TemplateKey& key, const std::function<void(const PendingSet&)>& decode);

    // Drops (through `dropped`) the sets received more than the configured age before `now_ns`, or all.
    void expire(std::uint64_t now_ns, const std::function<void(const PendingSet&)>& dropped);
    void drop_all(const std::function<void(const PendingSet&)>& dropped);

    bool empty() const noexcept { return sets_.empty(); }
    std::size_t size() const noexcept { return sets_.size(); }
    std::size_t cost_bytes() const noexcept { return cost_; }  // what the cap is measured against
    static std::size_t cost_of(std::size_t body_length) noexcept { return body_length + kSetOverhead; }

private:
    using SetList = std::list<PendingSet>;
    void drop_oldest(const std::function<void(const PendingSet&)>& dropped);
    void forget(SetList::iterator it);
    void shrink_when_empty();

    PendingDataLimits limits_;
    SetList sets_;  // arrival order
    // A template's held sets, oldest first; the oldest of the store is always first of its template's.
    boost::unordered_flat_map<TemplateKey, std::vector<SetList::iterator>, TemplateKeyHash> by_template_;
    std::size_t cost_ = 0;
    std::size_t peak_cost_ = 0;  // since the store was last empty
};

}  // namespace flowguard::collector
