#include <flowguard/analyzer/passive_dns.hpp>
#include <flowguard/core/clock.hpp>

#include <algorithm>

namespace flowguard::analyzer {
namespace {}  // namespace

std::size_t ClientDomainHash::operator()(const ClientDomain& k) const noexcept {
    std::size_t h = hash_value(k.client);
    boost::hash_combine(h, k.domain);
    return h;
}

PassiveDns::PassiveDns(const PassiveDnsConfig& config, const NetworkSet& internal, PublicSuffixList suffixes)
    : config_(config), internal_(internal), suffixes_(std::move(suffixes)) {
    for (const auto& r : config_.resolvers)
        if (auto a = IpAddress::parse(r)) resolvers_.insert(*a);
    replace_allow_list(config_.allow_domains);
}

void PassiveDns::replace_allow_list(const std::vector<std::string>& domains) {
    allow_domains_.clear();
    for (const auto& d : domains) allow_domains_.insert(lower_name(d));
    for (auto& [id, domain] : domains_) domain.allowed = allow_domains_.count(domain.name) != 0;
}

const std::string& PassiveDns::domain(std::uint32_t id) const {
    static const std::string forgotten;
    const auto it = domains_.find(id);
    return it == domains_.end() ? forgotten : it->second.name;
}

std::uint64_t PassiveDns::domain_first_seen(std::uint32_t id) const {
    const auto it = domains_.find(id);
    return it == domains_.end() ? 0 : it->second.first_seen_ns;
}

bool PassiveDns::allowed_domain(std::uint32_t id) const {
    const auto it = domains_.find(id);
    return it != domains_.end() && it->second.allowed;
}

std::uint32_t PassiveDns::intern(const std::string& name, std::uint64_t time_ns) {
    if (const auto it = domain_ids_.find(name); it != domain_ids_.end()) {
        Domain& known = domains_.find(it->second)->second;
        known.first_seen_ns = std::min(known.first_seen_ns, time_ns);
        known.last_seen_ns = std::max(known.last_seen_ns, time_ns);
        return it->second;
    }
    if (domains_.size() >= config_.max_domains && !forget_idle_domains(time_ns)) {
        ++stats_.domains_untracked;
        return 0;
    }
    const std::uint32_t id = unused_domain_id();
    domains_.emplace(id, Domain{name, time_ns, time_ns, allow_domains_.count(name) != 0});
    domain_ids_.emplace(name, id);
    return id;
}

// Ids only grow, so a detector's series or state naming a forgotten domain never takes another's name; after
// 2^32 - 1 domains the ids wrap, skipping those still held.
std::uint32_t PassiveDns::unused_domain_id() {
    do {
        ++last_domain_id_;
    } while (last_domain_id_ == 0 || domains_.contains(last_domain_id_));
    return last_domain_id_;
}

// The table is full: forget the idle eighth of it that was named longest ago. A domain is idle when nothing
// named it for name_ttl_cap, so no resolved name still points at it. A flood of new domains cannot push out
// the ones in use: with too few idle, later domains go untracked (counted) and the sweep waits a minute.
bool PassiveDns::forget_idle_domains(std::uint64_t now_ns) {
    if (now_ns < next_forget_ns_) return false;
    const std::uint64_t idle_before = now_ns > config_.name_ttl_cap_ns ? now_ns - config_.name_ttl_cap_ns : 0;
    std::vector<std::pair<std::uint64_t, std::uint32_t>> idle;  // (last seen, id)
    for (const auto& [id, domain] : domains_)
        if (domain.last_seen_ns < idle_before) idle.emplace_back(domain.last_seen_ns, id);
    const std::size_t eighth = std::max<std::size_t>(config_.max_domains / 8, 1);
    if (idle.size() > eighth) {
        std::nth_element(idle.begin(), idle.begin() + static_cast<std::ptrdiff_t>(eighth), idle.end());
        idle.resize(eighth);
    }
    for (const auto& [last_seen, id] : idle) {
        const auto it = domains_.find(id);
        domain_ids_.erase(it->second.name);
        domains_.erase(it);
        domain_clients_.erase(id);
    }
    stats_.domains_forgotten += idle.size();
    domain_ids_churn_.erased(domain_ids_, idle.size());
    domains_churn_.erased(domains_, idle.size());
    if (idle.size() < eighth) next_forget_ns_ = now_ns + 60 * kSecondNs;
    return !idle.empty();
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
    note.domain_id = intern(note.domain, event.time_ns);
    if (note.domain_id == 0) return;
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
