#include <flowguard/exporters/flow_format.hpp>
#include <flowguard/exporters/flow_statistics.hpp>

#include <boost/container_hash/hash.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <stdexcept>

namespace flowguard::exporters {
namespace {

struct NamedStat {
    std::string_view name;
    StatSpec::Kind kind;
    std::uint32_t fields;
};

// nfdump's -s names, and flowguard's (conversation, exporter, interface).
constexpr std::array kStats{
    NamedStat{"ip", StatSpec::Kind::either_addr, kSrcAddr},
    NamedStat{"srcip", StatSpec::Kind::fields, kSrcAddr},
    NamedStat{"dstip", StatSpec::Kind::fields, kDstAddr},
    NamedStat{"port", StatSpec::Kind::either_port, kSrcPort},
    NamedStat{"srcport", StatSpec::Kind::fields, kSrcPort},
    NamedStat{"dstport", StatSpec::Kind::fields, kDstPort},
    NamedStat{"proto", StatSpec::Kind::fields, kProto},
    NamedStat{"exporter", StatSpec::Kind::fields, kExporter},
    NamedStat{"router", StatSpec::Kind::fields, kExporter},
    NamedStat{"interface", StatSpec::Kind::either_if, kInIf},
    NamedStat{"if", StatSpec::Kind::either_if, kInIf},
    NamedStat{"inif", StatSpec::Kind::fields, kInIf},
    NamedStat{"outif", StatSpec::Kind::fields, kOutIf},
    NamedStat{"as", StatSpec::Kind::either_as, kSrcAs},
    NamedStat{"srcas", StatSpec::Kind::fields, kSrcAs},
    NamedStat{"dstas", StatSpec::Kind::fields, kDstAs},
    NamedStat{"tos", StatSpec::Kind::fields, kTos},
    NamedStat{"conversation", StatSpec::Kind::conversation, kSrcAddr | kDstAddr},
    NamedStat{"record", StatSpec::Kind::fields, kFiveTuple},
};

struct NamedField {
    std::string_view name;
    std::uint32_t field;
};
constexpr std::array kFields{
    NamedField{"srcip", kSrcAddr},   NamedField{"dstip", kDstAddr}, NamedField{"srcport", kSrcPort},
    NamedField{"dstport", kDstPort}, NamedField{"proto", kProto},   NamedField{"exporter", kExporter},
    NamedField{"router", kExporter}, NamedField{"inif", kInIf},     NamedField{"outif", kOutIf},
    NamedField{"srcas", kSrcAs},     NamedField{"dstas", kDstAs},   NamedField{"tos", kTos},
};

constexpr std::array<std::string_view, 6> kOrders{"flows", "packets", "bytes", "pps", "bps", "bpp"};

template <typename Table>
std::string names_of(const Table& table) {
    std::string out;
    for (const auto& entry : table) out += (out.empty() ? "" : ", ") + std::string(entry.name);
    return out;
}

}  // namespace

std::size_t hash_value(const GroupKey& k) noexcept {
    std::size_t h = hash_value(k.src);
    boost::hash_combine(h, hash_value(k.dst));
    boost::hash_combine(h, hash_value(k.exporter));
    boost::hash_combine(h, (std::uint64_t{k.in_if} << 32) | k.out_if);
    boost::hash_combine(h, (std::uint64_t{k.src_as} << 32) | k.dst_as);
    boost::hash_combine(h, (std::uint64_t{k.domain} << 32) | (std::uint64_t{k.src_port} << 16) | k.dst_port);
    boost::hash_combine(h, (std::uint32_t{k.proto} << 8) | k.tos);
    return h;
}

std::string_view stat_order_name(StatOrder o) noexcept {
    return kOrders[static_cast<std::size_t>(o)];
}

StatSpec StatSpec::parse(std::string_view text) {
    StatSpec spec;
    const auto slash = text.find('/');
    const std::string_view name = text.substr(0, slash);
    const auto stat = std::find_if(kStats.begin(), kStats.end(), [&](const NamedStat& s) { return s.name == name; });
    if (stat == kStats.end())
        throw std::invalid_argument(fmt::format("unknown statistic '{}' (known: {})", name, names_of(kStats)));
    spec.kind = stat->kind;
    spec.fields = stat->fields;
    spec.name = std::string(name);
    if (slash != std::string_view::npos) {
        const std::string_view order = text.substr(slash + 1);
        const auto it = std::find(kOrders.begin(), kOrders.end(), order);
        if (it == kOrders.end())
            throw std::invalid_argument(
                fmt::format("unknown order '{}' (flows, packets, bytes, pps, bps or bpp)", order));
        spec.order = static_cast<StatOrder>(it - kOrders.begin());
    }
    return spec;
}

bool StatSpec::reads_core_fields_only() const noexcept {
    constexpr std::uint32_t kCore = kFiveTuple | kTos;
    return kind != Kind::either_if && kind != Kind::either_as && (fields & ~kCore) == 0;
}

std::uint32_t StatSpec::parse_fields(std::string_view list) {
    std::uint32_t fields = 0;
    while (!list.empty()) {
        const auto comma = list.find(',');
        const std::string_view name = list.substr(0, comma);
        const auto f =
            std::find_if(kFields.begin(), kFields.end(), [&](const NamedField& x) { return x.name == name; });
        if (f == kFields.end())
            throw std::invalid_argument(
                fmt::format("unknown aggregation field '{}' (known: {})", name, names_of(kFields)));
        fields |= f->field;
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    }
    if (fields == 0) throw std::invalid_argument("no aggregation fields given");
    return fields;
}

std::uint64_t order_value(const GroupTotals& t, StatOrder o) noexcept {
    const std::uint64_t ms = t.duration_ms();
    switch (o) {
        case StatOrder::flows:
            return t.flows;
        case StatOrder::packets:
            return t.packets;
        case StatOrder::bytes:
            return t.bytes;
        case StatOrder::pps:
            return ms ? t.packets * 1000 / ms : 0;
        case StatOrder::bps:
            return ms ? t.bytes * 8000 / ms : 0;
        case StatOrder::bpp:
            return t.packets ? t.bytes / t.packets : 0;
    }
    return 0;
}

namespace {

std::uint64_t number_of(std::uint32_t field, const FlowRecord& r) noexcept {
    switch (field) {
        case kSrcPort:
            return r.src_port;
        case kDstPort:
            return r.dst_port;
        case kProto:
            return r.proto;
        case kInIf:
            return r.in_if;
        case kOutIf:
            return r.out_if;
        case kSrcAs:
            return r.src_as;
        case kDstAs:
            return r.dst_as;
        case kTos:
            return r.ip_tos;
        default:
            return 0;
    }
}

void set_number(std::uint32_t field, std::uint64_t value, GroupKey& k) noexcept {
    switch (field) {
        case kSrcPort:
            k.src_port = static_cast<std::uint16_t>(value);
            break;
        case kDstPort:
            k.dst_port = static_cast<std::uint16_t>(value);
            break;
        case kProto:
            k.proto = static_cast<std::uint8_t>(value);
            break;
        case kInIf:
            k.in_if = static_cast<std::uint32_t>(value);
            break;
        case kOutIf:
            k.out_if = static_cast<std::uint32_t>(value);
            break;
        case kSrcAs:
            k.src_as = static_cast<std::uint32_t>(value);
            break;
        case kDstAs:
            k.dst_as = static_cast<std::uint32_t>(value);
            break;
        case kTos:
            k.tos = static_cast<std::uint8_t>(value);
            break;
        default:
            break;
    }
}

constexpr std::uint32_t kNumberFields = kSrcPort | kDstPort | kProto | kInIf | kOutIf | kSrcAs | kDstAs | kTos;

}  // namespace

StatTable::StatTable(StatSpec spec) : spec_(std::move(spec)) {
    using Kind = StatSpec::Kind;
    const auto f = spec_.fields;
    const bool one_field = std::has_single_bit(f);
    switch (spec_.kind) {
        case Kind::either_addr:
            shape_ = Shape::address;
            first_field_ = kSrcAddr;
            second_field_ = kDstAddr;
            break;
        case Kind::either_port:
            shape_ = Shape::number;
            first_field_ = kSrcPort;
            second_field_ = kDstPort;
            break;
        case Kind::either_if:
            shape_ = Shape::number;
            first_field_ = kInIf;
            second_field_ = kOutIf;
            break;
        case Kind::either_as:
            shape_ = Shape::number;
            first_field_ = kSrcAs;
            second_field_ = kDstAs;
            break;
        case Kind::fields:
            if (one_field && (f == kSrcAddr || f == kDstAddr)) shape_ = Shape::address;
            if (one_field && (f & kNumberFields)) shape_ = Shape::number;
            first_field_ = f;
            break;
        case Kind::conversation:
            shape_ = Shape::pair;
            break;
    }
}

std::size_t StatTable::AddressPairHash::operator()(const AddressPair& p) const noexcept {
    std::size_t h = hash_value(p.low);
    boost::hash_combine(h, hash_value(p.high));
    return h;
}

GroupKey StatTable::key_of(const FlowRecord& r, std::uint32_t fields) const noexcept {
    GroupKey k;
    if (fields & kSrcAddr) k.src = r.src_addr;
    if (fields & kDstAddr) k.dst = r.dst_addr;
    if (fields & kSrcPort) k.src_port = r.src_port;
    if (fields & kDstPort) k.dst_port = r.dst_port;
    if (fields & kProto) k.proto = r.proto;
    if (fields & kExporter) {
        k.exporter = r.sampler_address;
        k.domain = r.observation_domain_id;
    }
    if (fields & kInIf) k.in_if = r.in_if;
    if (fields & kOutIf) k.out_if = r.out_if;
    if (fields & kSrcAs) k.src_as = r.src_as;
    if (fields & kDstAs) k.dst_as = r.dst_as;
    if (fields & kTos) k.tos = r.ip_tos;
    return k;
}

void StatTable::add(const FlowRecord& r) {
    totals_.add(r);
    switch (shape_) {
        case Shape::address:
            by_address_[first_field_ == kSrcAddr ? r.src_addr : r.dst_addr].add(r);
            if (second_field_) by_address_[r.dst_addr].add(r);
            return;
        case Shape::number:
            by_number_[number_of(first_field_, r)].add(r);
            if (second_field_) by_number_[number_of(second_field_, r)].add(r);
            return;
        case Shape::pair:
            by_pair_[{std::min(r.src_addr, r.dst_addr), std::max(r.src_addr, r.dst_addr)}].add(r);
            return;
        case Shape::generic:
            break;
    }
    add_to(key_of(r, spec_.fields), r);
}

namespace {

// The smaller table's groups are added to the larger one (so a share is moved in whole when this table is
// empty): a scan thread's million conversations copied group by group into an empty table, rehashing it as it
// grew, were a quarter of `-s conversation`'s time. Not reserved for both: shares mostly hold the same keys.
template <typename Map>
void merge_groups(Map& into, Map& from) {
    if (into.size() < from.size()) into.swap(from);
    for (const auto& [key, totals] : from) into[key].merge(totals);
    from.clear();
}

}  // namespace

void StatTable::merge(StatTable&& other) {
    totals_.merge(other.totals_);
    merge_groups(by_address_, other.by_address_);
    merge_groups(by_number_, other.by_number_);
    merge_groups(by_pair_, other.by_pair_);
    merge_groups(groups_, other.groups_);
}

std::vector<StatRow> StatTable::top(std::size_t n) const {
    const auto order = spec_.order;
    auto before = [&](const StatRow& a, const StatRow& b) {
        const auto va = order_value(a.totals, order);
        const auto vb = order_value(b.totals, order);
        if (va != vb) return va > vb;
        return std::tie(a.key.src, a.key.dst, a.key.src_port, a.key.dst_port, a.key.proto, a.key.exporter, a.key.in_if,
                        a.key.out_if, a.key.src_as, a.key.dst_as, a.key.tos, a.key.domain) <
               std::tie(b.key.src, b.key.dst, b.key.src_port, b.key.dst_port, b.key.proto, b.key.exporter, b.key.in_if,
                        b.key.out_if, b.key.src_as, b.key.dst_as, b.key.tos, b.key.domain);
    };
    // With a bound, only the n best rows so far are kept, as a heap whose front is the worst of them: the top 10
    // of millions of conversations no longer copies every group into one vector to sort.
    const bool bounded = n != 0 && n < groups();
    std::vector<StatRow> rows;
    rows.reserve(bounded ? n : groups());
    auto offer = [&](const GroupKey& k, const GroupTotals& t) {
        if (!bounded) {
            rows.push_back({k, t});
            return;
        }
        StatRow row{k, t};
        if (rows.size() == n) {
            if (!before(row, rows.front())) return;
            std::pop_heap(rows.begin(), rows.end(), before);
            rows.back() = row;
        } else {
            rows.push_back(row);
        }
        std::push_heap(rows.begin(), rows.end(), before);
    };
    for (const auto& [key, totals] : groups_) offer(key, totals);
    for (const auto& [address, totals] : by_address_) {
        GroupKey k;
        (first_field_ == kDstAddr ? k.dst : k.src) = address;
        offer(k, totals);
    }
    for (const auto& [number, totals] : by_number_) {
        GroupKey k;
        set_number(first_field_, number, k);
        offer(k, totals);
    }
    for (const auto& [pair, totals] : by_pair_) {
        GroupKey k;
        k.src = pair.low;
        k.dst = pair.high;
        offer(k, totals);
    }
    std::sort(rows.begin(), rows.end(), before);
    return rows;
}

std::string StatTable::key_text(const GroupKey& k) const {
    switch (spec_.kind) {
        case StatSpec::Kind::either_addr:
            return k.src.to_string();
        case StatSpec::Kind::either_port:
            return std::to_string(k.src_port);
        case StatSpec::Kind::either_if:
            return std::to_string(k.in_if);
        case StatSpec::Kind::either_as:
            return std::to_string(k.src_as);
        case StatSpec::Kind::conversation:
            return k.src.to_string() + " <-> " + k.dst.to_string();
        case StatSpec::Kind::fields:
            break;
    }
    const std::uint32_t f = spec_.fields;
    if ((f & kFiveTuple) == kFiveTuple && f == kFiveTuple)
        return fmt::format("{}:{} -> {}:{} {}", k.src.to_string(), k.src_port, k.dst.to_string(), k.dst_port,
                           protocol_text(k.proto));
    std::string out;
    auto part = [&](std::uint32_t bit, const std::string& text) {
        if (!(f & bit)) return;
        if (!out.empty()) out += ' ';
        out += text;
    };
    part(kSrcAddr, k.src.to_string());
    part(kSrcPort, std::to_string(k.src_port));
    part(kDstAddr, k.dst.to_string());
    part(kDstPort, std::to_string(k.dst_port));
    part(kProto, protocol_text(k.proto));
    part(kExporter, k.domain ? fmt::format("{}/{}", k.exporter.to_string(), k.domain) : k.exporter.to_string());
    part(kInIf, std::to_string(k.in_if));
    part(kOutIf, std::to_string(k.out_if));
    part(kSrcAs, std::to_string(k.src_as));
    part(kDstAs, std::to_string(k.dst_as));
    part(kTos, std::to_string(k.tos));
    return out;
}

}  // namespace flowguard::exporters
