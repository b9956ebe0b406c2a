#pragma once
// Label values that name exporters and their interfaces in metrics. The first `cap` seen keep their name for
// the life of the process (so a counter never moves between series); later ones are reported as "other", so
// spoofed exporters cannot grow the label set. One instance serves every metric of a scrape (the collector's
// per-exporter counters and the traffic counters name the same exporters alike).
#include <flowguard/core/ip_address.hpp>

#include <boost/container_hash/hash.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

#include <cstdint>
#include <mutex>
#include <string>

namespace flowguard {

class ExporterLabels {
public:
    // `span_interface`: records of the span-port meter have no exporter address and are named "span:IFACE".
    ExporterLabels(std::size_t max_exporters, std::size_t max_interfaces, std::string span_interface)
        : max_exporters_(max_exporters), max_interfaces_(max_interfaces), span_interface_(std::move(span_interface)) {}

    std::string exporter(const IpAddress& address) {
        if (address.empty()) return span_interface_.empty() ? "" : "span:" + span_interface_;
        std::lock_guard lock(mutex_);
        return named(exporters_, address, max_exporters_) ? address.to_string() : "other";
    }
    std::string interface(const IpAddress& exporter, std::uint32_t if_index) {
        std::lock_guard lock(mutex_);
        return named(interfaces_, Interface{exporter, if_index}, max_interfaces_) ? std::to_string(if_index) : "other";
    }

private:
    struct Interface {
        IpAddress exporter;
        std::uint32_t if_index = 0;
        friend bool operator==(const Interface&, const Interface&) = default;
        friend std::size_t hash_value(const Interface& i) {
            std::size_t h = hash_value(i.exporter);
            boost::hash_combine(h, i.if_index);
            return h;
        }
    };
    template <class Set, class Key>
    static bool named(Set& set, const Key& key, std::size_t cap) {
        if (set.contains(key)) return true;
        if (set.size() >= cap) return false;
        set.insert(key);
        return true;
    }

    std::size_t max_exporters_;
    std::size_t max_interfaces_;
    std::string span_interface_;
    std::mutex mutex_;
    boost::unordered_flat_set<IpAddress, boost::hash<IpAddress>> exporters_;
    boost::unordered_flat_set<Interface, boost::hash<Interface>> interfaces_;
};

}  // namespace flowguard
