#pragma once
// When each internal client was active, in 30-minute bins over the last 24 days: a bin is active when the
// client sent any outbound record in it. Beacon scoring asks how long a client was idle between two events of
// a series, so that the hours a laptop sleeps (nights, weekends) are not taken as the beacon's irregularity:
// an implant sleeps when its host does. 24 days because a series keeps 48 events, which a 3-hour implant on a
// laptop awake 10 hours on weekdays spreads over about three weeks (with 8 days of 10-minute bins, a 14-day
// series' first nights were no longer known and counted as waking time); 30 minutes is fine enough for
// sleeps of an hour or more. 152 bytes per client; bounded by `max_clients` (a full table forgets the clients
// quiet longest).
#include <flowguard/core/flat_map_rebuild.hpp>
#include <flowguard/core/ip_address.hpp>

#include <boost/unordered/unordered_flat_map.hpp>

#include <array>
#include <cstdint>
#include <vector>

namespace flowguard::analyzer {

class ClientActivity {
public:
    static constexpr std::uint64_t kBinNs = 1'800'000'000'000ull;  // 30 minutes
    static constexpr std::uint32_t kBins = 24 * 48;                // 24 days

    explicit ClientActivity(std::size_t max_clients);

    void note(const IpAddress& client, std::uint64_t time_ns);
    // The client's sleeps strictly between the bins of `from_ns` and `to_ns`: the total of its runs of inactive
    // bins that last `min_sleep_ns` or more (a weekend with an hour's use on Saturday is two sleeps), in ns; 0
    // when the client is unknown or the range is older than the bins kept (nothing is known, nothing excluded).
    std::uint64_t asleep_ns(const IpAddress& client, std::uint64_t from_ns, std::uint64_t to_ns,
                            std::uint64_t min_sleep_ns) const;
    std::size_t size() const noexcept { return clients_.size(); }

private:
    struct Bins {
        std::array<std::uint64_t, kBins / 64> active{};
        std::uint32_t latest = 0;  // newest bin noted (bins count from the epoch)
        bool test(std::uint32_t bin) const noexcept { return (active[(bin % kBins) / 64] >> (bin % 64)) & 1u; }
        void set(std::uint32_t bin) noexcept { active[(bin % kBins) / 64] |= std::uint64_t{1} << (bin % 64); }
        void clear(std::uint32_t bin) noexcept { active[(bin % kBins) / 64] &= ~(std::uint64_t{1} << (bin % 64)); }
    };
    void evict();

    boost::unordered_flat_map<IpAddress, Bins> clients_;  // boost::hash: hash_value(IpAddress)
    std::size_t max_clients_;
    IpAddress last_client_;  // records come in runs of one client: the last note is remembered
    std::uint32_t last_bin_ = 0;
    ChurnCounter churn_;
    std::vector<std::uint64_t> scratch_;
};

}  // namespace flowguard::analyzer
