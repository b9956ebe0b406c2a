#pragma once
// Flow filters in nfdump's filter language, so an nfdump user's filters work on `flowguard query` unchanged:
//   src net 10.1.1.0/24 and dst port 443
//   not (proto udp or port in [ 53 123 ]) and bytes > 10k
//   exporter 192.0.2.1 and in if 3
// plus `name example.com`: flows to or from an address that passive DNS mapped to that name (or a name
// under it), given the addresses when compiling. The text compiles once to a flat tree of nodes; matching a
// record walks it with a switch (no allocation, no virtual call).
#include <flowguard/core/flow_record.hpp>

#include <boost/unordered/unordered_flat_set.hpp>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace flowguard::exporters {

// A filter that does not parse: what was wrong and where (0-based offset into the filter text).
class FilterError : public std::runtime_error {
public:
    FilterError(const std::string& what, std::size_t position) : std::runtime_error(what), position_(position) {}
    std::size_t position() const noexcept { return position_; }

private:
    std::size_t position_;
};

// The addresses passive DNS saw for a name and the names under it ("example.com" also gives
// "www.example.com"'s); called once per `name` term while compiling.
using NameAddresses = std::function<std::vector<IpAddress>(std::string_view name)>;

class FlowFilter {
public:
    FlowFilter();  // matches every record ("any")
    // Throws FilterError. Without `names`, a `name` term is an error saying that no DNS events were found.
    static FlowFilter compile(std::string_view text, const NameAddresses& names = {});

    bool matches(const FlowRecord& r) const noexcept {
        return (r.time_flow_start_ns < to_ns_) & (r.time_flow_end_ns >= from_ns_) & run(r);
    }
    bool matches_all() const noexcept;
    // True when the filter reads only what an nfdump record's generic flow and address elements hold (times,
    // volumes, ports, protocol, flags, TOS, addresses): a reader can then decide before parsing the rest.
    bool reads_core_fields_only() const noexcept { return core_only_; }
    // Also require the flow to overlap [from_ns, to_ns): started before `to`, ended at or after `from`.
    void restrict_time(std::uint64_t from_ns, std::uint64_t to_ns) noexcept {
        from_ns_ = from_ns;
        to_ns_ = to_ns;
    }

    // What a numeric comparison reads from a record (nfdump's semantics: duration in ms, pps/bps/bpp from it).
    enum class Field : std::uint8_t {
        src_port,
        dst_port,
        proto,
        bytes,
        packets,
        tos,
        src_as,
        dst_as,
        in_if,
        out_if,
        src_vlan,
        dst_vlan,
        src_mask,
        dst_mask,
        icmp_type,
        icmp_code,
        duration_ms,
        pps,
        bps,
        bpp,
        nfversion,
        domain,
        fwdstat,
        direction,
        family,
        tcp_flags_all
    };
    enum class AddressField : std::uint8_t { src, dst, next_hop, bgp_next_hop, exporter };
    enum class Compare : std::uint8_t { eq, lt, gt, le, ge };

    // An address or network as two masked 64-bit halves of the 16-byte form (an IPv4 /24 masks 120 bits).
    struct Prefix {
        std::uint64_t hi = 0, lo = 0, mask_hi = 0, mask_lo = 0;
        IpAddress::Family family = IpAddress::Family::none;
        static Prefix of(const IpAddress& a, unsigned bits128) noexcept;
        bool contains(const IpAddress& a) const noexcept;
    };
    // A few addresses and networks are compared one by one; long lists of addresses go into a hash set.
    struct AddressSet {
        std::vector<Prefix> prefixes;
        boost::unordered_flat_set<IpAddress> exact;
        void add(const IpAddress& a);
        void add(const Prefix& p) { prefixes.push_back(p); }
        // Every prefix is compared: a loop that stopped at the first match would branch on the data.
        bool contains(const IpAddress& a) const noexcept {
            bool found = false;
            for (const auto& p : prefixes) found |= p.contains(a);
            if (!exact.empty()) found |= exact.contains(a);
            return found;
        }
    };

    struct Node {
        enum class Kind : std::uint8_t { always, never, all_of, any_of, negate, compare, in_set, address };
        Kind kind = Kind::always;
        Field field = Field::proto;
        AddressField address = AddressField::src;
        Compare op = Compare::eq;
        std::uint32_t first = 0;  // all_of/any_of: children children_[first, first + count); negate: its child
        std::uint32_t count = 0;  // in_set: numbers_[first, first + count), sorted; address: sets_[first]
        std::uint64_t value = 0;
    };

private:
    friend class FilterParser;

    // The tree (nodes_) as a sequence of steps run without short-circuits: every record takes the same path
    // through them, so the CPU predicts the interpreter's branches and only the results depend on the record,
    // and the result of the group being evaluated stays in a register (the tree walked recursively with
    // short-circuits took 13-14 ns per flow on `src net N and dst port 22 and bytes > 100k`, this 8:
    // bench/filter_bench). A term combines its result into its group's; a group opens (saving the enclosing
    // group's result) and closes (combining its own into it).
    struct Step {
        enum class Kind : std::uint8_t { term, open, close };
        Kind kind = Kind::term;
        bool and_into = true;      // term, close: combined into the enclosing group by AND (else OR)
        bool negate = false;       // term, close: the result inverted first
        bool starts_true = false;  // open: an all_of starts true, an any_of false
        Node term;                 // term: what to test
    };
    static constexpr std::size_t kProgramStack = 256;  // > the parser's nesting limit
    void flatten_root();
    void flatten(std::uint32_t node, bool and_into, bool negate, std::size_t depth);
    bool run(const FlowRecord& r) const noexcept;
    bool term(const Node& n, const FlowRecord& r) const noexcept;
    static std::uint64_t field_value(Field f, const FlowRecord& r) noexcept;
    static std::uint64_t value_of(Field f, const FlowRecord& r) noexcept;
    static const IpAddress& address_of(AddressField f, const FlowRecord& r) noexcept;

    std::vector<Node> nodes_;
    std::vector<std::uint32_t> children_;
    std::vector<std::uint64_t> numbers_;
    std::vector<AddressSet> sets_;
    std::uint32_t root_ = 0;
    std::vector<Step> program_;
    bool starts_true_ = true;  // the root group's result before its terms: an any_of starts false
    bool core_only_ = true;
    std::uint64_t from_ns_ = 0;
    std::uint64_t to_ns_ = UINT64_MAX;
};

}  // namespace flowguard::exporters
