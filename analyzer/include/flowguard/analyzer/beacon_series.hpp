#pragma once
// Connection times (and sizes) per (client, target), scored for periodicity (beacon_score.hpp): the machinery
// the beacon and DNS-beacon detectors share, each with a table of its own. A pair seen once waits as a first
// sighting (40 bytes); a second event makes it a series (~450 bytes) holding its last 48 events. A series is
// scored once it has min_connections events over 5 minutes at least, and every 4 events after, until it is
// decided; a target that several clients reach on the same schedule within a day is a service, not C2
// (popular: suppressed). Bounded by beacon.max_series: a flood of one-off pairs is forgotten, a full table
// loses its stalest eighth (counted).
#include <flowguard/analyzer/beacon_score.hpp>
#include <flowguard/analyzer/client_activity.hpp>
#include <flowguard/analyzer/detector_stats.hpp>
#include <flowguard/analyzer/popularity.hpp>
#include <flowguard/analyzer/relays.hpp>
#include <flowguard/core/alert.hpp>
#include <flowguard/core/config.hpp>
#include <flowguard/core/counters.hpp>
#include <flowguard/core/flat_map_rebuild.hpp>
#include <flowguard/core/ip_address.hpp>

#include <boost/json/object.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace flowguard::analyzer {

// `analyzer.beacon:` (docs/DETECTION.md explains each key and how the defaults were tuned).
struct BeaconConfig {
    std::size_t min_connections = 10;        // events before a series is scored
    double threshold = 0.82;                 // combined score that raises an alert
    double min_dispersion_score = 0.55;      // 1 - MAD/median of intervals: jitter up to ~45% on average passes
    std::size_t max_clients_per_target = 4;  // this many clients beaconing to one target: a service, not C2
    std::size_t max_series = 131072;         // (client, target) series kept per detector; the stalest go beyond
    // Connection reconstruction (connections.hpp): a record of a 5-tuple seen within this continues its
    // connection; keep-alives every few minutes (180 s collaboration heartbeats) stay one connection.
    std::uint64_t connection_timeout_ns = 600'000'000'000;
    std::size_t max_connections = 262144;
    // A connection open this long to a destination fewer than max_clients_per_target clients hold long
    // sessions to (by address and by name, over a day) is a long_connection finding; 0 turns it off.
    std::uint64_t long_connection_ns = 4 * 3600'000'000'000ull;
    // A series that decided periodic is held this long (event time) before it is reported, and reported only if
    // its target is still not popular then: the first clients of a service whose addresses rotate are not
    // alerted before the other clients' series show it is a service. 0 reports at once.
    std::uint64_t hold_ns = 3600'000'000'000ull;
    RelayConfig relay;                                                // forward proxies and NAT gateways (relays.hpp)
    std::vector<std::uint16_t> allow_ports{123, 110, 143, 993, 995};  // NTP and mail polling
    std::vector<std::string> allow_domains{"windowsupdate.com", "microsoft.com", "apple.com",  "ntp.org",
                                           "google.com",        "gstatic.com",   "ubuntu.com", "debian.org"};
};

void read_beacon_config(const YAML::Node& node, const std::string& key, BeaconConfig& out);  // throws ConfigError
void write_beacon_config(YAML::Emitter& out, const BeaconConfig& b);

struct SeriesKey {
    IpAddress client;
    IpAddress peer;            // address series
    std::uint32_t domain = 0;  // name and DNS series: registered domain id
    std::uint8_t kind = 0;     // the detector's own series kinds (address, name)
    std::uint16_t port = 0;    // the service port
    friend bool operator==(const SeriesKey&, const SeriesKey&) = default;
};

// A series the scorer found periodic, to be reported.
struct BeaconFinding {
    SeriesKey key;
    BeaconScore score;
    std::uint64_t first_ns = 0;
    std::uint64_t last_ns = 0;
    std::uint32_t total = 0;         // events seen (more than the 48 scored)
    std::uint32_t asleep = 0;        // intervals with the client's sleep taken out
    std::uint32_t alias_domain = 0;  // an address series' resolved name (registered domain id), 0 for none
    IpAddress via;                   // the proxy the client's connections went through, if they did
    bool relay_own = false;          // the client is a relay: scored against relay_threshold
    // A series reported before that goes on (the score is not recomputed): the finding is `ongoing`.
    bool continuing = false;
};

// What the hold did (per detector): findings waiting now, and held findings whose target turned out popular.
struct HoldCounters {
    std::uint64_t held = 0;
    std::uint64_t held_then_popular = 0;
};

inline constexpr CounterTable<HoldCounters, 2> kHoldCounters{{
    {"", counter_ref<&HoldCounters::held>, Merge::sum, "flowguard_beacon_findings_held", MetricType::gauge,
     "Periodic series waiting out beacon.hold before they are reported."},
    {"", counter_ref<&HoldCounters::held_then_popular>, Merge::sum, "flowguard_beacon_held_then_popular_total",
     MetricType::counter, "Held findings not reported because their target became popular during the hold."},
}};

class BeaconSeries {
public:
    // `with_sizes`: connection sizes count in the score (flows); DNS queries have none.
    BeaconSeries(const BeaconConfig& config, bool with_sizes);

    // Adds one event at `time_ns`. Events closer than `repeat_ns` to the series' last one count once (a
    // connection's burst of sampled packets, A and AAAA queries). `alias`: another series the same event
    // belongs to (an address series' name series); the target counts as popular when either is. Returns a
    // finding when this event made the series periodic enough, or a `continuing` one for an event of a
    // series reported before, at most every AlertOut::kContinuingEveryNs of event time.
    // `via`: the proxy the connection went through (relays.hpp), kept for the finding.
    std::optional<BeaconFinding> record(const SeriesKey& key, std::uint64_t time_ns, std::uint64_t size,
                                        std::uint64_t repeat_ns = 0, const SeriesKey* alias = nullptr,
                                        const IpAddress* via = nullptr);
    // End of input: scores every series that has enough events and was not decided; findings in a fixed
    // order (first seen, then key), whatever the table's layout.
    std::vector<BeaconFinding> finish();
    // Findings whose hold ended by `now_ns` (event time) and whose target is still not popular, in decision
    // order. Cheap while nothing is due: callers check release_due() per event.
    std::vector<BeaconFinding> release(std::uint64_t now_ns);
    bool release_due(std::uint64_t now_ns) const noexcept { return now_ns >= next_release_ns_; }
    HoldCounters hold_counters() const noexcept { return {held_.size(), held_then_popular_}; }

    // The clients' activity (owned by the detector, which notes it): when the client itself was idle for at
    // least max(1 h, twice the median interval) between two events - a laptop asleep overnight or over a
    // weekend - that idle time is taken out of the series' clock, so an implant that sleeps with its host is
    // scored on its waking hours. Without it the series is scored on wall-clock time.
    void use_activity(const ClientActivity* activity) noexcept { activity_ = activity; }
    // The relays (owned by the detector): a relay's own series must reach relay.threshold.
    void use_relays(const Relays* relays) noexcept { relays_ = relays; }
    std::uint64_t suppressed_relay() const noexcept { return suppressed_relay_; }

    DetectorStats stats() const noexcept;

private:
    struct KeyHash {
        std::size_t operator()(const SeriesKey& k) const noexcept;
    };
    static constexpr std::size_t kEvents = 48;
    struct Series {
        std::uint64_t base_ns = 0;
        std::uint64_t last_ns = 0;
        std::uint32_t total = 0;
        std::uint32_t scored_at = 0;
        std::uint32_t alias_domain = 0;  // the alias series' domain (same port), 0 for none
        std::uint8_t alias_kind = 0;
        std::uint8_t head = 0;
        std::uint8_t stored = 0;
        bool decided = false;
        bool reported = false;           // decided and reported (not popular): its later events say the beacon goes on
        IpAddress via;                   // the proxy of the series' latest event, if any
        std::uint32_t continued_ms = 0;  // reported: when (offset from base_ns) it was last said to go on
        std::array<std::uint32_t, kEvents> offsets_ms{};
        std::array<std::uint32_t, kEvents> sizes{};
    };
    struct FirstSighting {
        std::uint64_t time_ns;
        std::uint32_t size;
    };

    Series& promote(const SeriesKey& key, const FirstSighting& seen, std::uint64_t time_ns);
    std::optional<BeaconFinding> score(const SeriesKey& key, Series& series);
    // Sorts the event times and takes the client's sleeps out of them; returns the intervals a sleep cut
    // (bit i: between the i-th and the next time).
    std::uint64_t waking_times(const SeriesKey& key, std::span<std::uint64_t> times) const;
    static DestinationKey target_of(const SeriesKey& key) noexcept;
    static bool lasted(const Series& series) noexcept;  // long enough to be a schedule (5 minutes)
    static bool goes_on_now(Series& series) noexcept;   // a reported series' event: say it goes on now?
    static void mark_reported(Series& series) noexcept;
    bool popular(const SeriesKey& key, const Series& series) const;
    // Sets `relay_own` when the client is a relay; true (counted) when the score falls short of relay.threshold.
    bool short_of_relay_evidence(const SeriesKey& key, const BeaconScore& score, bool& relay_own);
    void evict();

    BeaconConfig config_;
    bool with_sizes_;
    boost::unordered_flat_map<SeriesKey, FirstSighting, KeyHash> first_sightings_;
    boost::unordered_flat_map<SeriesKey, Series, KeyHash> series_;
    const ClientActivity* activity_ = nullptr;
    const Relays* relays_ = nullptr;
    std::uint64_t suppressed_relay_ = 0;  // a relay's series periodic enough for a client, not for a relay
    Popularity popularity_;      // clients with periodic series (3 events and more) per target, over a sliding day
    ChurnCounter series_churn_;  // rebuilt after evictions (bulk erasures; core/flat_map_rebuild.hpp)
    std::vector<std::uint64_t> eviction_scratch_;
    std::uint64_t evictions_ = 0;
    std::uint64_t suppressed_popular_ = 0;
    struct Held {
        BeaconFinding finding;
        std::uint64_t release_ns = 0;
    };
    std::vector<Held> held_;  // in decision order; bounded by max_series (a series is held once)
    std::uint64_t next_release_ns_ = UINT64_MAX;
    std::uint64_t held_then_popular_ = 0;
};

// What every beacon alert says: its kind, the score (high severity from 0.9) and its parts rounded for reading
// (the evidence), the client, when the series began and was last seen. The detector adds the target.
Alert beacon_alert(std::string kind, const BeaconFinding& finding);

}  // namespace flowguard::analyzer
