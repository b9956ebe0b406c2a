#pragma once
// The detectors of one analyzer shard: beaconing (per client and IP, per client and resolved name, per client
// and registered domain over DNS queries), SUNBURST DNS decoding, IOC matching and lexical DGA scoring.
// Event time (the records' own timestamps) is the clock, so live runs and retro-hunts agree. All state is
// bounded by configuration; a flood of unique pairs evicts the stalest state and counts it.
#include <flowguard/analyzer/ioc.hpp>
#include <flowguard/analyzer/lexical.hpp>
#include <flowguard/analyzer/registered_domain.hpp>
#include <flowguard/analyzer/sunburst.hpp>
#include <flowguard/core/alert.hpp>
#include <flowguard/core/config.hpp>
#include <flowguard/core/dns_event.hpp>
#include <flowguard/core/flow_record.hpp>

#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

#include <array>
#include <string>
#include <unordered_set>
#include <vector>

namespace flowguard::analyzer {

struct AnalyzerStats {
    std::uint64_t flows = 0;
    std::uint64_t dns_events = 0;
    std::uint64_t alerts = 0;
    std::uint64_t pairs = 0;  // beacon series tracked now
    std::uint64_t pair_evictions = 0;
    std::uint64_t suppressed_popular = 0;  // periodic, but many clients do it: a service, not C2
    std::uint64_t resolvers_learned = 0;
};

class Analyzer {
public:
    Analyzer(const AnalyzerConfig& config, const NetworkSet& internal, PublicSuffixList suffixes, IocList iocs);

    void on_flow(const FlowRecord& flow, std::vector<Alert>& alerts);
    void on_dns(const DnsEvent& event, std::vector<Alert>& alerts);
    // End of input (retro-hunt) or periodic: scores every series that has enough events.
    void finish(std::vector<Alert>& alerts);
    void replace_iocs(IocList iocs) { iocs_ = std::move(iocs); }  // SIGHUP
    // SIGHUP: the beacon allow-lists (series already alerted stay alerted; new scores use the new lists).
    void replace_allow_lists(const std::vector<std::uint16_t>& ports, const std::vector<std::string>& domains);

    AnalyzerStats stats() const;

private:
    enum class SeriesKind : std::uint8_t { address, name, dns };
    struct SeriesKey {
        IpAddress client;
        IpAddress peer;        // address series
        std::uint32_t domain;  // name and dns series
        SeriesKind kind;
        std::uint16_t port;  // address series: the service port
        friend bool operator==(const SeriesKey&, const SeriesKey&) = default;
    };
    struct SeriesKeyHash {
        std::size_t operator()(const SeriesKey& k) const noexcept;
    };
    static constexpr std::size_t kSeriesEvents = 48;
    struct Series {
        std::uint64_t base_ns = 0;
        std::uint64_t last_ns = 0;
        std::uint32_t total = 0;
        std::uint32_t scored_at = 0;
        std::uint8_t head = 0;
        std::uint8_t stored = 0;
        bool alerted = false;
        std::array<std::uint32_t, kSeriesEvents> offsets_ms{};
        std::array<std::uint32_t, kSeriesEvents> sizes{};
    };
    struct ClientDomain {
        IpAddress client;
        std::uint32_t domain;
        friend bool operator==(const ClientDomain&, const ClientDomain&) = default;
    };
    struct ClientDomainHash {
        std::size_t operator()(const ClientDomain& k) const noexcept;
    };
    struct DgaState {
        DistinctCounter names;
        double lexical_sum = 0;
        std::uint32_t queries = 0;
        std::uint64_t first_ns = 0;
        std::uint64_t last_ns = 0;
        bool alerted = false;
        std::array<DnsName, 3> samples{};
        std::uint8_t sample_count = 0;
    };
    struct ResolvedName {
        std::uint32_t domain;
        std::uint64_t expires_ns;
    };
    struct TargetClients {
        std::array<IpAddress, 8> clients{};
        std::uint8_t count = 0;
    };

    std::uint32_t intern(const std::string& domain);
    bool allowed_domain(const std::string& domain) const;
    void record(const SeriesKey& key, std::uint64_t time_ns, std::uint64_t size, std::vector<Alert>& alerts,
                bool packet_sample = false);
    void score(const SeriesKey& key, Series& series, std::vector<Alert>& alerts);
    void note_client(const SeriesKey& key);
    std::size_t distinct_clients(const SeriesKey& key) const;
    void evict_series();
    void sunburst(const DnsEvent& event, const std::string& name, std::vector<Alert>& alerts);
    void dga(const DnsEvent& event, const std::string& name, const std::string& domain, std::uint32_t id,
             std::vector<Alert>& alerts);
    void ioc_alert(const IpAddress& client, const IpAddress& peer, const std::string& what, const IocMatch& match,
                   std::uint64_t time_ns, std::string_view where, std::vector<Alert>& alerts);
    bool first_time(const std::string& dedup_key);
    void emit(Alert alert, std::vector<Alert>& alerts);

    AnalyzerConfig config_;
    NetworkSet internal_;
    PublicSuffixList suffixes_;
    IocList iocs_;
    std::unordered_set<std::uint16_t> allow_ports_;
    std::unordered_set<std::string> allow_domains_;
    boost::unordered_flat_map<std::string, std::uint32_t> domain_ids_;
    std::vector<std::string> domains_;
    std::vector<std::uint64_t> domain_first_seen_;
    struct FirstSighting {
        std::uint64_t time_ns;
        std::uint32_t size;
    };
    // Most pairs are seen once: they wait here (40 bytes) until a second event makes them a Series (~430).
    boost::unordered_flat_map<SeriesKey, FirstSighting, SeriesKeyHash> first_sightings_;
    boost::unordered_flat_map<SeriesKey, Series, SeriesKeyHash> series_;
    boost::unordered_flat_map<SeriesKey, TargetClients, SeriesKeyHash> target_clients_;
    boost::unordered_flat_map<ClientDomain, DgaState, ClientDomainHash> dga_;
    boost::unordered_flat_map<std::uint32_t, std::uint32_t> dga_clients_;  // registered domain -> clients asking
    boost::unordered_flat_map<std::pair<IpAddress, IpAddress>, ResolvedName,
                              boost::hash<std::pair<IpAddress, IpAddress>>>
        resolved_;
    boost::unordered_flat_set<IpAddress, boost::hash<IpAddress>> resolvers_;
    std::unordered_set<std::string> reported_;
    std::vector<std::uint64_t> eviction_scratch_;
    SunburstDomainAssembler sunburst_domains_;
    AnalyzerStats stats_;
};

}  // namespace flowguard::analyzer
