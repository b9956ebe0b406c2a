#pragma once
// Counters declared once. A module lists each field of a counter struct in one table: its key in the stop
// summary, how copies from several threads combine, and the Prometheus metric it feeds (name, type, help,
// scale). Merging, the summary, the metric catalogue and each scrape are generated from that table, so a new
// counter is one struct member and one table line, and no per-field code exists anywhere else.
#include <boost/json/object.hpp>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace flowguard {

enum class MetricType : std::uint8_t { counter, gauge };

// One metric of the catalogue: docs/METRICS.md and every scrape come from these.
struct MetricSpec {
    std::string_view name;
    MetricType type = MetricType::counter;
    std::string_view help;
    std::vector<std::string_view> labels;
};

// Where a scrape writes (exporters' MetricWriter). Label values come in the spec's label order.
class MetricSink {
public:
    virtual ~MetricSink() = default;
    virtual void add(std::string_view name, std::span<const std::string_view> label_values, double value) = 0;
    void add(std::string_view name, std::initializer_list<std::string_view> label_values, double value) {
        add(name, std::span<const std::string_view>(label_values.begin(), label_values.size()), value);
    }
};

// Counters saturate instead of wrapping: a hostile value (a sampling rate of 2^64-1) must not make a shared
// counter go down, which Prometheus would read as a reset.
constexpr std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) noexcept {
    std::uint64_t sum = 0;
    return __builtin_add_overflow(a, b, &sum) ? UINT64_MAX : sum;
}
constexpr std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) noexcept {
    std::uint64_t product = 0;
    return __builtin_mul_overflow(a, b, &product) ? UINT64_MAX : product;
}

enum class Merge : std::uint8_t {
    sum,  // counts: copies from several threads add up
    max,  // times, speeds: the largest copy wins
};

// The accessor of one counter, also inside a member struct: counter_ref<&Stats::sequence, &Sequence::lost>.
template <class Owner>
using CounterRef = std::uint64_t& (*)(Owner&) noexcept;

template <class>
struct member_owner;
template <class Class, class Type>
struct member_owner<Type Class::*> {
    using type = Class;
};

template <auto First, auto... Rest>
std::uint64_t& counter_ref(typename member_owner<decltype(First)>::type& owner) noexcept {
    return ((owner.*First).*....*Rest);
}

template <class Owner>
struct CounterField {
    std::string_view key;  // in the stop summary; "" = not there
    CounterRef<Owner> ref;
    Merge merge = Merge::sum;
    std::string_view metric = {};  // Prometheus name; "" = summary only
    MetricType type = MetricType::counter;
    std::string_view help = {};
    double scale = 1;  // the metric's value is the counter times this (ns -> s: 1e-9)
    // A last label value of this field's own: fields that share one metric tell its series apart
    // (in_octets and out_octets are flowguard_interface_octets_total{direction="in"|"out"}).
    std::string_view label = {};

    std::uint64_t get(const Owner& owner) const noexcept { return ref(const_cast<Owner&>(owner)); }
};

template <class Owner, std::size_t N>
using CounterTable = std::array<CounterField<Owner>, N>;

// `into` += `from`, field by field, as each field's Merge says.
template <class Owner, std::size_t N>
void merge_counters(Owner& into, const Owner& from, const CounterTable<Owner, N>& table) noexcept {
    for (const auto& field : table) {
        auto& value = field.ref(into);
        const auto other = field.get(from);
        value = field.merge == Merge::sum ? saturating_add(value, other) : (other > value ? other : value);
    }
}

// Every field with a summary key, as JSON numbers.
template <class Owner, std::size_t N>
void add_to_summary(boost::json::object& summary, const Owner& counters, const CounterTable<Owner, N>& table) {
    for (const auto& field : table)
        if (!field.key.empty()) summary[field.key] = field.get(counters);
}

// Every field with a metric, under the same label values.
template <class Owner, std::size_t N>
void write_metrics(MetricSink& sink, const Owner& counters, const CounterTable<Owner, N>& table,
                   std::span<const std::string_view> label_values = {}) {
    std::vector<std::string_view> labels(label_values.begin(), label_values.end());
    for (const auto& field : table) {
        if (field.metric.empty()) continue;
        if (!field.label.empty()) labels.push_back(field.label);
        sink.add(field.metric, labels, static_cast<double>(field.get(counters)) * field.scale);
        if (!field.label.empty()) labels.pop_back();
    }
}

template <class Owner, std::size_t N>
void write_metrics(MetricSink& sink, const Owner& counters, const CounterTable<Owner, N>& table,
                   std::initializer_list<std::string_view> label_values) {
    write_metrics(sink, counters, table, std::span<const std::string_view>(label_values.begin(), label_values.size()));
}

// The catalogue entries of a table's metrics, all with these label names (a metric that several fields share
// once).
template <class Owner, std::size_t N>
void append_metric_specs(std::vector<MetricSpec>& catalog, const CounterTable<Owner, N>& table,
                         std::initializer_list<std::string_view> labels = {}) {
    for (const auto& field : table) {
        if (field.metric.empty()) continue;
        bool seen = false;
        for (const auto& spec : catalog) seen = seen || spec.name == field.metric;
        if (!seen) catalog.push_back(MetricSpec{field.metric, field.type, field.help, labels});
    }
}

}  // namespace flowguard
