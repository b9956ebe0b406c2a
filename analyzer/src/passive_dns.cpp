#include <flowguard/analyzer/passive_dns.hpp>

#include <algorithm>

namespace flowguard::analyzer {
namespace {

constexpr std::uint64_t kSecondNs = 1'000'000'000;

}  // namespace

std::size_t ClientDomainHash::operator()(const ClientDomain& k) const noexcept {
    std::size_t h = hash_value(k.client);
    boost::hash_combine(h, k.domain);
    return h;
}

PassiveDns::PassiveDns(const PassiveDnsConfig& config, const NetworkSet& internal, PublicSuffixList suffixes)
    : config_(config), internal_(internal), suffixes_(std::move(suffixes)) {
    for (const auto& r : config_.resolvers)
        if (auto a = IpAddress::parse(r)) resolvers_.insert(*a);
    domains_.emplace_back();  // id 0: no name
    domain_first_seen_.push_back(0);
    domain_allowed_.push_back(0);
    replace_allow_list(config_.allow_domains);
}

void PassiveDns::replace_allow_list(const std::vector<std::string>& domains) {
    allow_domains_.clear();
    for (const auto& d : domains) allow_domains_.insert(lower_name(d));
    for (std::size_t id = 0; id < domains_.size(); ++id) domain_allowed_[id] = allow_domains_.count(domains_[id]) != 0;
}

bool PassiveDns::allowed_domain(std::uint32_t id) const {
    return domain_allowed_[id] != 0;
}

std::uint32_t PassiveDns::intern(const std::string& domain) {
    const auto it = domain_ids_.find(domain);
    if (it != domain_ids_.end()) return it->second;
    if (domains_.size() >= config_.max_domains) {
        ++stats_.domains_untracked;
        return 0;
    }
    const auto id = static_cast<std::uint32_t>(domains_.size());
    domains_.push_back(domain);
    domain_first_seen_.push_back(0);
    domain_allowed_.push_back(allow_domains_.count(domain) != 0);
    domain_ids_.emplace(domain, id);
    return id;
}

std::uint32_t PassiveDns::resolved_name(const IpAddress& client, const IpAddress& address,
                                        std::uint64_t time_ns) const {
    const auto it = resolved_.find({client, address});
    return it != resolved_.end() && time_ns <= it->second.expires_ns ? it->second.domain : 0;
}

const QueryNames* PassiveDns::query_names(const IpAddress& client, std::uint32_t domain_id) const {
    const auto it = query_names_.find(ClientDomain{client, domain_id});
    return it == query_names_.end() ? nullptr : &it->second;
}

void PassiveDns::update(std::span<const DnsEvent> events, std::vector<DnsNote>& notes) {
    notes.resize(events.size());  // the notes' strings keep their capacity from batch to batch
    for (std::size_t i = 0; i < events.size(); ++i) note(events[i], notes[i]);
}

void PassiveDns::note(const DnsEvent& event, DnsNote& note) {
    note.skip = true;
    note.name.clear();
    note.domain.clear();
    note.domain_id = 0;
    note.allowed = false;
    note.names_present = note.subdomain = note.new_name = note.names_reset = false;
    if (event.response && internal(event.server) && internal(event.client)) {
        if (resolvers_.insert(event.server).second) ++stats_.resolvers_learned;
    }
    // A resolver forwarding its clients' queries is not a client: alerts go to whoever asked it, which the
    // resolver's own answer to that client shows.
    if (resolvers_.count(event.client)) return;
    note.name = lower_name(event.qname.view());
    if (note.name.empty()) return;
    note.skip = false;
    note.domain = suffixes_.registered_domain(note.name);
    note.domain_id = intern(note.domain);
    if (note.domain_id == 0) return;
    if (domain_first_seen_[note.domain_id] == 0) domain_first_seen_[note.domain_id] = event.time_ns;
    note.allowed = allowed_domain(note.domain_id);
    if (event.response) {
        const std::uint64_t ttl_ns =
            std::min<std::uint64_t>(std::uint64_t{event.min_ttl} * kSecondNs + 60 * kSecondNs, config_.name_ttl_cap_ns);
        if (resolved_.size() >= config_.max_resolved) {  // a flood forgets them all, counted
            stats_.names_evictions += resolved_.size();
            resolved_.clear();
        }
        for (std::size_t i = 0; i < event.address_count; ++i)
            resolved_[{event.client, event.addresses[i]}] = ResolvedName{note.domain_id, event.time_ns + ttl_ns};
        return;
    }
    if (!note.allowed) note_query_names(event, note);
}

void PassiveDns::note_query_names(const DnsEvent& event, DnsNote& note) {
    const ClientDomain key{event.client, note.domain_id};
    note.subdomain = note.name.size() > note.domain.size() + 1;  // not the registered domain itself
    auto found = query_names_.find(key);
    if (note.subdomain) {
        if (found == query_names_.end()) {
            if (query_names_.size() >= config_.max_query_names) {  // bounded like the series: a flood forgets
                stats_.names_evictions += query_names_.size();
                query_names_.clear();
                domain_clients_.clear();
                note.names_reset = true;
            }
            found = query_names_.emplace(key, QueryNames{}).first;
            ++domain_clients_[note.domain_id];
        }
        QueryNames& names = found->second;
        const std::string_view label = std::string_view(note.name).substr(0, note.name.size() - note.domain.size() - 1);
        const auto before = names.names.estimate();
        names.names.add(hash_name(label));
        if (names.queries == 0) names.first_ns = event.time_ns;
        names.last_ns = event.time_ns;
        ++names.queries;
        note.new_name = names.names.estimate() > before;
        if (note.new_name && names.sample_count < names.samples.size())
            names.samples[names.sample_count++].assign(note.name);
    }
    if (found == query_names_.end()) return;
    const QueryNames& names = found->second;
    note.names_present = true;
    note.unique_names = names.names.estimate();
    note.queries = names.queries;
    note.samples = names.sample_count;
    note.names_first_ns = names.first_ns;
    const auto clients = domain_clients_.find(note.domain_id);
    note.clients_of_domain = clients == domain_clients_.end() ? 0 : clients->second;
}

}  // namespace flowguard::analyzer
