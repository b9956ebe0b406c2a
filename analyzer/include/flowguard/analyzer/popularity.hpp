#pragma once
// Distinct internal clients per destination over a sliding window (a day by default): a destination that many
// clients reach the same way is a service, not C2. Keyed by whatever the owner groups by - an address and
// port, or a registered domain and port - so that a load-balanced service whose addresses rotate daily is
// known by its name from its first client on. Each destination keeps its last 8 distinct clients with the time
// each was last noted; bounded by `max_targets` (a full table forgets the destinations quiet longest).
#include <flowguard/core/flat_map_rebuild.hpp>
#include <flowguard/core/ip_address.hpp>

#include <boost/unordered/unordered_flat_map.hpp>

#include <array>
#include <cstdint>
#include <vector>

namespace flowguard::analyzer {

struct DestinationKey {
    IpAddress address;         // or empty when grouped by name
    std::uint32_t domain = 0;  // registered domain id (PassiveDns), or 0
    std::uint16_t port = 0;
    std::uint8_t kind = 0;  // the owner's grouping (keeps an owner's groupings apart)
    friend bool operator==(const DestinationKey&, const DestinationKey&) = default;
};

class Popularity {
public:
    static constexpr std::size_t kClientsKept = 8;

    Popularity(std::uint64_t window_ns, std::size_t max_targets);

    void note(const DestinationKey& target, const IpAddress& client, std::uint64_t now_ns);
    // Distinct clients noted within the window before `now_ns` (at most kClientsKept).
    std::size_t clients(const DestinationKey& target, std::uint64_t now_ns) const;
    std::size_t size() const noexcept { return targets_.size(); }

private:
    struct KeyHash {
        std::size_t operator()(const DestinationKey& k) const noexcept;
    };
    struct Clients {
        std::array<IpAddress, kClientsKept> client{};
        std::array<std::uint64_t, kClientsKept> noted_ns{};
        std::uint64_t latest_ns = 0;
        std::uint8_t count = 0;
    };
    void evict();

    boost::unordered_flat_map<DestinationKey, Clients, KeyHash> targets_;
    std::uint64_t window_ns_;
    std::size_t max_targets_;
    ChurnCounter churn_;
    std::vector<std::uint64_t> scratch_;
};

}  // namespace flowguard::analyzer
