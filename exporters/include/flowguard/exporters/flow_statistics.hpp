#pragma once
// Top-N statistics and aggregation over flow records, as nfdump's -s, -a and -A: records grouped by a key
// (addresses, ports, protocol, exporter, interfaces, AS, conversation, 5-tuple), summed, ordered and cut.
//   -s ip/bytes       addresses by bytes, each flow counted for its source and its destination (nfdump's "ip")
//   -s conversation   address pairs in either direction
//   -A srcip,dstport  aggregation by the chosen fields (-a: the 5-tuple)
#include <flowguard/core/flow_record.hpp>

#include <boost/unordered/unordered_flat_map.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace flowguard::exporters {

// The fields a group key can hold; a statistic or an aggregation uses some of them.
struct GroupKey {
    IpAddress src, dst, exporter;
    std::uint32_t in_if = 0, out_if = 0, src_as = 0, dst_as = 0, domain = 0;
    std::uint16_t src_port = 0, dst_port = 0;
    std::uint8_t proto = 0, tos = 0;
    bool operator==(const GroupKey&) const = default;
};
std::size_t hash_value(const GroupKey& k) noexcept;

struct GroupTotals {
    std::uint64_t flows = 0, packets = 0, bytes = 0;
    std::uint64_t first_ns = UINT64_MAX, last_ns = 0;
    void add(const FlowRecord& r) noexcept {
        ++flows;
        packets += r.packets;
        bytes += r.bytes;
        first_ns = std::min(first_ns, r.time_flow_start_ns);
        last_ns = std::max(last_ns, r.time_flow_end_ns);
    }
    void merge(const GroupTotals& o) noexcept {
        flows += o.flows;
        packets += o.packets;
        bytes += o.bytes;
        first_ns = std::min(first_ns, o.first_ns);
        last_ns = std::max(last_ns, o.last_ns);
    }
    std::uint64_t duration_ms() const noexcept { return last_ns > first_ns ? (last_ns - first_ns) / 1'000'000 : 0; }
};

enum class StatOrder : std::uint8_t { flows, packets, bytes, pps, bps, bpp };

// What one -s or -A groups by: a bit per key field.
enum GroupField : std::uint32_t {
    kSrcAddr = 1u << 0,
    kDstAddr = 1u << 1,
    kSrcPort = 1u << 2,
    kDstPort = 1u << 3,
    kProto = 1u << 4,
    kExporter = 1u << 5,
    kInIf = 1u << 6,
    kOutIf = 1u << 7,
    kSrcAs = 1u << 8,
    kDstAs = 1u << 9,
    kTos = 1u << 10,
};
inline constexpr std::uint32_t kFiveTuple = kSrcAddr | kDstAddr | kSrcPort | kDstPort | kProto;

struct StatSpec {
    enum class Kind : std::uint8_t {
        fields,        // one key per flow from `fields` (srcip, dstport, proto, exporter, record, ...)
        either_addr,   // ip: the source and the destination address
        either_port,   // port
        either_if,     // interface / if
        either_as,     // as
        conversation,  // the unordered address pair
    };
    Kind kind = Kind::fields;
    std::uint32_t fields = 0;
    StatOrder order = StatOrder::flows;
    std::string name;  // as given: "ip", "dstport", ...

    // "ip/bytes", "dstport", "conversation/flows", "record"; throws std::invalid_argument naming the known ones.
    static StatSpec parse(std::string_view text);
    // "srcip,dstport,proto" for -A; throws std::invalid_argument.
    static std::uint32_t parse_fields(std::string_view list);
    // True when grouping reads only what an nfdump record's generic flow and address elements hold (addresses,
    // ports, protocol, TOS; the totals read volumes and times): a scan can then skip parsing the rest.
    bool reads_core_fields_only() const noexcept;
};

std::string_view stat_order_name(StatOrder o) noexcept;

struct StatRow {
    GroupKey key;
    GroupTotals totals;
};

// One statistic's groups. Not thread-safe.
class StatTable {
public:
    explicit StatTable(StatSpec spec);
    void add(const FlowRecord& r);
    // Adds another table of the same spec (a scan thread's share) to this one, taking its groups: `other` is
    // left empty.
    void merge(StatTable&& other);
    // The `n` first rows by the spec's order, largest first (0 = all); ties by key, so output is stable.
    std::vector<StatRow> top(std::size_t n) const;
    // The key as text: "10.0.0.1", "443", "TCP", "10.0.0.1 <-> 10.0.0.2", "10.0.0.1:51000 -> 10.0.0.2:443 TCP".
    std::string key_text(const GroupKey& k) const;
    const StatSpec& spec() const noexcept { return spec_; }
    // Every record added once: the denominators of the percentages.
    const GroupTotals& totals() const noexcept { return totals_; }
    std::size_t groups() const noexcept {
        return by_address_.size() + by_number_.size() + by_pair_.size() + groups_.size();
    }

private:
    // The common statistics group by one address, one number or an address pair (conversations): those get
    // maps with small keys (a scan adds every matching record, and hashing the whole GroupKey cost more than
    // reading the record; millions of conversations in 120-byte entries cost their page faults).
    enum class Shape : std::uint8_t { address, number, pair, generic };
    struct AddressPair {
        IpAddress low, high;
        bool operator==(const AddressPair&) const = default;
    };
    struct AddressPairHash {
        std::size_t operator()(const AddressPair& p) const noexcept;
    };

    GroupKey key_of(const FlowRecord& r, std::uint32_t fields) const noexcept;
    void add_to(const GroupKey& k, const FlowRecord& r) { groups_[k].add(r); }

    StatSpec spec_;
    Shape shape_ = Shape::generic;
    std::uint32_t first_field_ = 0;   // address/number: the field a key is read from (and shown as)
    std::uint32_t second_field_ = 0;  // ip, port, if, as: the other side, counted too (0 = none)
    boost::unordered_flat_map<IpAddress, GroupTotals> by_address_;
    boost::unordered_flat_map<std::uint64_t, GroupTotals> by_number_;
    boost::unordered_flat_map<AddressPair, GroupTotals, AddressPairHash> by_pair_;
    boost::unordered_flat_map<GroupKey, GroupTotals> groups_;
    GroupTotals totals_;
};

std::uint64_t order_value(const GroupTotals& t, StatOrder o) noexcept;

}  // namespace flowguard::exporters
