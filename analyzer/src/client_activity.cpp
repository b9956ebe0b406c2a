#include <flowguard/analyzer/client_activity.hpp>
#include <flowguard/core/stalest.hpp>

#include <algorithm>

namespace flowguard::analyzer {

ClientActivity::ClientActivity(std::size_t max_clients) : max_clients_(max_clients) {}

void ClientActivity::note(const IpAddress& client, std::uint64_t time_ns) {
    const auto bin = static_cast<std::uint32_t>(time_ns / kBinNs);
    if (bin == last_bin_ && client == last_client_ && !clients_.empty()) return;
    auto it = clients_.find(client);
    if (it == clients_.end()) {
        if (clients_.size() >= max_clients_) evict();
        it = clients_.emplace(client, Bins{}).first;
        it->second.latest = bin;
    }
    Bins& b = it->second;
    if (bin > b.latest) {  // the bins between the newest noted and this one were idle: clear them
        if (bin - b.latest >= kBins) {
            b.active.fill(0);
        } else {
            for (std::uint32_t i = b.latest + 1; i < bin; ++i) b.clear(i);
            b.clear(bin);
        }
        b.latest = bin;
    } else if (b.latest - bin >= kBins) {
        return;  // older than the bins kept
    }
    b.set(bin);
    last_client_ = client;
    last_bin_ = bin;
}

std::uint64_t ClientActivity::asleep_ns(const IpAddress& client, std::uint64_t from_ns, std::uint64_t to_ns,
                                        std::uint64_t min_sleep_ns) const {
    const auto it = clients_.find(client);
    if (it == clients_.end() || to_ns <= from_ns) return 0;
    const Bins& b = it->second;
    const auto from = static_cast<std::uint32_t>(from_ns / kBinNs);
    const auto to = static_cast<std::uint32_t>(to_ns / kBinNs);
    if (to > b.latest || b.latest - from >= kBins) return 0;  // not (or no longer) known
    const std::uint64_t min_run = (min_sleep_ns + kBinNs - 1) / kBinNs;
    std::uint64_t run = 0;
    std::uint64_t asleep = 0;
    for (std::uint32_t bin = from + 1; bin <= to; ++bin) {
        if (bin < to && !b.test(bin)) {
            ++run;
            continue;
        }
        if (run >= min_run) asleep += run;  // a run ends (at an active bin, or at the end of the range)
        run = 0;
    }
    return asleep * kBinNs;
}

void ClientActivity::evict() {
    const std::size_t erased = erase_stalest_eighth(
        clients_, [](const auto& e) { return std::uint64_t{e.second.latest}; }, scratch_);
    churn_.erased(clients_, erased);
    last_client_ = IpAddress{};  // the remembered client may be gone: no shortcut past the table
}

}  // namespace flowguard::analyzer
