#include <flowguard/collector/interface_counters.hpp>

namespace flowguard::collector {

std::size_t hash_value(const InterfaceKey& key) noexcept {
    std::size_t h = hash_value(key.agent);
    boost::hash_combine(h, (std::uint64_t{key.sub_agent} << 32) | key.if_index);
    return h;
}

bool InterfaceCounterTable::update(const InterfaceKey& key, const InterfaceCounters& counters) {
    if (auto it = table_.find(key); it != table_.end()) {
        it->second = counters;
        return true;
    }
    if (table_.size() >= max_interfaces_) {
        ++rejected_;
        return false;
    }
    table_.emplace(key, counters);
    return true;
}

void InterfaceCounterTable::for_each(
    const std::function<void(const InterfaceKey&, const InterfaceCounters&)>& visit) const {
    for (const auto& [key, counters] : table_) visit(key, counters);
}

}  // namespace flowguard::collector
