#pragma once
// The passive-DNS context every detector shares on a shard: which internal hosts are resolvers (configured,
// and learned from the answers they send to internal clients), the name an address was resolved to for a
// client (until its TTL runs out), registered domains (Public Suffix List) with the time each was first seen,
// the allow-listed domains, and per (client, registered domain) the subdomains the client asked. It is brought
// up to date by each DNS batch before the detectors see it, and describes each event in a note as it stood at
// that event, so a detector reading a note sees what a record-by-record pass would have seen.
#include <flowguard/analyzer/lexical.hpp>
#include <flowguard/analyzer/registered_domain.hpp>
#include <flowguard/core/counters.hpp>
#include <flowguard/core/dns_event.hpp>
#include <flowguard/core/flat_map_rebuild.hpp>
#include <flowguard/core/network_set.hpp>

#include <boost/container_hash/hash.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace flowguard::analyzer {

// A client and a registered domain (its id in the context): what query names and DGA state are kept per.
struct ClientDomain {
    IpAddress client;
    std::uint32_t domain = 0;
    friend bool operator==(const ClientDomain&, const ClientDomain&) = default;
};
struct ClientDomainHash {
    std::size_t operator()(const ClientDomain& k) const noexcept;
};

// The subdomains one client asked of one registered domain (DGA scoring, DNS-beacon evidence).
struct QueryNames {
    DistinctCounter names;
    std::uint32_t queries = 0;
    std::uint64_t first_ns = 0;
    std::uint64_t last_ns = 0;
    std::array<DnsName, 3> samples{};  // the first distinct names asked
    std::uint8_t sample_count = 0;
};

// What the context made of one DNS event, as it stood at that event.
struct DnsNote {
    bool skip = true;             // nothing to detect: asked by a resolver (forwarding its clients), or no name
    std::string name;             // lower-case query name, without the trailing dot
    std::string domain;           // its registered domain
    std::uint32_t domain_id = 0;  // 0: not tracked (past the cap of distinct domains)
    bool allowed = false;         // the registered domain is allow-listed
    // Query names of (client, domain) after this event; present only for queries of a tracked, not allowed
    // domain that have been asked with a subdomain label.
    bool names_present = false;
    bool subdomain = false;    // this query has a label under the registered domain
    bool new_name = false;     // and that name was not asked before
    bool names_reset = false;  // the query-name table was full: everything asked before this event was forgotten
    double unique_names = 0;
    std::uint32_t queries = 0;
    std::uint8_t samples = 0;  // of QueryNames::samples, valid at this event
    std::uint64_t names_first_ns = 0;
    std::uint32_t clients_of_domain = 0;  // clients the query-name table holds for this domain
};

// What the context keeps, and how long (from the analyzer's section).
struct PassiveDnsConfig {
    std::vector<std::string> resolvers;      // internal resolvers known in advance (others are learned)
    std::vector<std::string> allow_domains;  // registered domains left out of DGA and beacon scoring
    std::uint64_t name_ttl_cap_ns = 3600ull * 1'000'000'000;  // how long an address keeps a resolved name at most
    std::size_t max_resolved = 1u << 20;                      // (client, address) -> name entries kept
    std::size_t max_query_names = 131072;                     // (client, domain) query-name states kept
    // Distinct registered domains held. A full table forgets the domains idle longest (none asked or answered
    // within name_ttl_cap, so no resolved name still points at them); with none idle, new ones go untracked.
    std::size_t max_domains = 1u << 20;
};

struct PassiveDnsStats {
    std::uint64_t resolvers_learned = 0;
    std::uint64_t names_evictions = 0;    // (client, domain) and (client, address) states forgotten at the caps
    std::uint64_t domains_untracked = 0;  // names of new registered domains while the table was full of live ones
    std::uint64_t domains_forgotten = 0;  // idle domains forgotten to make room
    std::uint64_t domains = 0;            // registered domains held now
    std::uint64_t entries = 0;            // (client, address) and (client, domain) states held now
};

inline constexpr CounterTable<PassiveDnsStats, 6> kPassiveDnsStats{{
    {"resolvers_learned", counter_ref<&PassiveDnsStats::resolvers_learned>},
    {"", counter_ref<&PassiveDnsStats::names_evictions>},
    {"", counter_ref<&PassiveDnsStats::domains_untracked>},
    {"", counter_ref<&PassiveDnsStats::domains_forgotten>},
    {"", counter_ref<&PassiveDnsStats::domains>},
    {"", counter_ref<&PassiveDnsStats::entries>},
}};

class PassiveDns {
public:
    PassiveDns(const PassiveDnsConfig& config, const NetworkSet& internal, PublicSuffixList suffixes);

    // Brings the context up to date with the batch, event by event, writing one note per event.
    void update(std::span<const DnsEvent> events, std::vector<DnsNote>& notes);
    // SIGHUP: domains on the allow-list are left out of DGA and beacon scoring from now on.
    void replace_allow_list(const std::vector<std::string>& domains);

    bool internal(const IpAddress& address) const noexcept { return internal_.contains(address); }
    // The registered domain a client resolved `address` to, valid at `time_ns` (0: none known).
    std::uint32_t resolved_name(const IpAddress& client, const IpAddress& address, std::uint64_t time_ns) const;
    // A domain's name ("" once forgotten: ids are not reused while the id space lasts, so a detector holding a
    // forgotten id never sees another domain's name).
    const std::string& domain(std::uint32_t id) const;
    std::uint64_t domain_first_seen(std::uint32_t id) const;
    bool allowed_domain(std::uint32_t id) const;
    const QueryNames* query_names(const IpAddress& client, std::uint32_t domain_id) const;

    PassiveDnsStats stats() const noexcept {
        PassiveDnsStats s = stats_;
        s.domains = domains_.size();
        s.entries = resolved_.size() + query_names_.size();
        return s;
    }

private:
    struct ResolvedName {
        std::uint32_t domain;
        std::uint64_t expires_ns;
    };
    struct Domain {
        std::string name;
        std::uint64_t first_seen_ns = 0;
        std::uint64_t last_seen_ns = 0;  // latest event naming it (events may come out of order)
        bool allowed = false;            // on the current allow-list
    };

    void note(const DnsEvent& event, DnsNote& note);
    void note_query_names(const DnsEvent& event, DnsNote& note);
    std::uint32_t intern(const std::string& domain, std::uint64_t time_ns);
    bool forget_idle_domains(std::uint64_t now_ns);
    std::uint32_t unused_domain_id();

    PassiveDnsConfig config_;
    NetworkSet internal_;
    PublicSuffixList suffixes_;
    std::unordered_set<std::string> allow_domains_;
    boost::unordered_flat_map<std::string, std::uint32_t> domain_ids_;
    boost::unordered_flat_map<std::uint32_t, Domain> domains_;
    std::uint32_t last_domain_id_ = 0;  // 0: no name
    std::uint64_t next_forget_ns_ = 0;  // a sweep that freed little is not repeated before this
    ChurnCounter domain_ids_churn_;
    ChurnCounter domains_churn_;
    boost::unordered_flat_map<std::pair<IpAddress, IpAddress>, ResolvedName,
                              boost::hash<std::pair<IpAddress, IpAddress>>>
        resolved_;
    boost::unordered_flat_set<IpAddress, boost::hash<IpAddress>> resolvers_;
    boost::unordered_flat_map<ClientDomain, QueryNames, ClientDomainHash> query_names_;
    boost::unordered_flat_map<std::uint32_t, std::uint32_t> domain_clients_;  // registered domain -> clients
    PassiveDnsStats stats_;
};

}  // namespace flowguard::analyzer
