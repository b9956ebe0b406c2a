#include <flowguard/analyzer/analyzer.hpp>
#include <flowguard/analyzer/beacon_score.hpp>
#include <flowguard/core/stalest.hpp>
#include <flowguard/core/time_format.hpp>

#include <boost/container_hash/hash.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <tuple>

namespace flowguard::analyzer {
namespace {

constexpr std::uint64_t kNsPerMs = 1'000'000;
constexpr std::uint64_t kDnsRepeatNs = 2'000'000'000;  // A+AAAA pairs and retries within this count once
// sFlow records are single sampled packets, not flows: the packets of one connection arrive as a burst, and
// a burst within this counts as one event (one connection) of the series.
constexpr std::uint64_t kSampleBurstNs = 2'000'000'000;
constexpr std::size_t kMaxReported = 1u << 20;

double round3(double v) {
    return std::round(v * 1000.0) / 1000.0;
}

boost::json::object score_evidence(const BeaconScore& s) {
    boost::json::object e;
    e["connections"] = s.connections;
    e["median_interval_s"] = round3(s.median_interval_s);
    e["mad_interval_s"] = round3(s.mad_interval_s);
    e["bowley_skew"] = round3(s.bowley);
    e["skew_score"] = round3(s.skew_score);
    e["dispersion_score"] = round3(s.dispersion_score);
    e["coverage_score"] = round3(s.coverage_score);
    if (s.size_score >= 0) e["size_score"] = round3(s.size_score);
    e["observed_span_s"] = round3(s.span_s);
    return e;
}

}  // namespace

std::size_t Analyzer::SeriesKeyHash::operator()(const SeriesKey& k) const noexcept {
    std::size_t h = hash_value(k.client);
    boost::hash_combine(h, hash_value(k.peer));
    boost::hash_combine(h,
                        std::uint64_t{k.domain} << 24 | std::uint64_t{k.port} << 8 | static_cast<std::uint8_t>(k.kind));
    return h;
}

std::size_t Analyzer::ClientDomainHash::operator()(const ClientDomain& k) const noexcept {
    std::size_t h = hash_value(k.client);
    boost::hash_combine(h, k.domain);
    return h;
}

Analyzer::Analyzer(const AnalyzerConfig& config, const NetworkSet& internal, PublicSuffixList suffixes, IocList iocs)
    : config_(config),
      internal_(internal),
      suffixes_(std::move(suffixes)),
      iocs_(std::move(iocs)),
      sunburst_domains_(4096) {
    replace_allow_lists(config_.beacon.allow_ports, config_.beacon.allow_domains);
    for (const auto& r : config_.resolvers) {
        if (auto a = IpAddress::parse(r)) resolvers_.insert(*a);
    }
    // No rehash on the hot path; the slots' memory is touched only when used.
    series_.reserve(config_.beacon.max_series);
    first_sightings_.reserve(config_.beacon.max_series);
    domains_.emplace_back();  // id 0: no name
    domain_first_seen_.push_back(0);
}

std::uint32_t Analyzer::intern(const std::string& domain) {
    const auto it = domain_ids_.find(domain);
    if (it != domain_ids_.end()) return it->second;
    if (domains_.size() >= (1u << 20)) return 0;  // bound: names beyond 1M distinct domains are not tracked
    const auto id = static_cast<std::uint32_t>(domains_.size());
    domains_.push_back(domain);
    domain_first_seen_.push_back(0);
    domain_ids_.emplace(domain, id);
    return id;
}

void Analyzer::replace_allow_lists(const std::vector<std::uint16_t>& ports, const std::vector<std::string>& domains) {
    allow_ports_.clear();
    allow_ports_.insert(ports.begin(), ports.end());
    allow_domains_.clear();
    for (const auto& d : domains) allow_domains_.insert(lower_name(d));
}

bool Analyzer::allowed_domain(const std::string& domain) const {
    return allow_domains_.count(domain) != 0;
}

bool Analyzer::first_time(const std::string& dedup_key) {
    if (reported_.count(dedup_key)) return false;
    if (reported_.size() >= kMaxReported) reported_.clear();
    reported_.insert(dedup_key);
    return true;
}

void Analyzer::emit(Alert alert, std::vector<Alert>& alerts) {
    alert.id = fmt::format("{}@{}", alert.dedup_key, alert.first_seen_ns / 1'000'000'000ull);
    ++stats_.alerts;
    alerts.push_back(std::move(alert));
}

void Analyzer::on_flow(const FlowRecord& flow, std::vector<Alert>& alerts) {
    ++stats_.flows;
    const bool src_internal = internal_.contains(flow.src_addr);
    const bool dst_internal = internal_.contains(flow.dst_addr);
    for (const auto* address :
         {&flow.dst_addr, &flow.src_addr}) {  // match_address returns at once when no address is listed
        if (auto match = iocs_.match_address(*address)) {
            const IpAddress& host = address == &flow.dst_addr ? flow.src_addr : flow.dst_addr;
            ioc_alert(host, *address, address->to_string(), *match, flow.time_flow_start_ns, "flow", alerts);
        }
    }
    // Beacons are outbound: an internal client calling an external peer. One-way records of the answers
    // (external source) and internal-only traffic (lateral movement's business) are not scored here.
    if (!src_internal || dst_internal || flow.dst_addr.empty()) return;
    if (flow.proto != 6 && flow.proto != 17) return;
    if (flow.dst_port == 53 || allow_ports_.count(flow.dst_port) || allow_ports_.count(flow.src_port)) return;
    if (flow.src_port != 0 && flow.src_port < 1024 && flow.dst_port >= 1024) return;  // a server's answer
    const std::uint64_t time = flow.time_flow_start_ns;
    SeriesKey key{flow.src_addr, flow.dst_addr, 0, SeriesKind::address, flow.dst_port};
    std::uint32_t name_id = 0;
    if (const auto it = resolved_.find({flow.src_addr, flow.dst_addr});
        it != resolved_.end() && time <= it->second.expires_ns) {
        name_id = it->second.domain;
        if (name_id && allowed_domain(domains_[name_id])) return;
    }
    const bool packet_sample = flow.type == FlowType::sflow5;
    record(key, time, flow.bytes, alerts, packet_sample);
    if (name_id)
        record(SeriesKey{flow.src_addr, IpAddress{}, name_id, SeriesKind::name, flow.dst_port}, time, flow.bytes,
               alerts, packet_sample);
}

void Analyzer::on_dns(const DnsEvent& event, std::vector<Alert>& alerts) {
    ++stats_.dns_events;
    if (event.response && internal_.contains(event.server) && internal_.contains(event.client)) {
        if (resolvers_.insert(event.server).second) ++stats_.resolvers_learned;
    }
    // A resolver forwarding its clients' queries is not a client: alerts go to whoever asked it, which the
    // resolver's own answer to that client shows.
    if (resolvers_.count(event.client)) return;
    const std::string name = lower_name(event.qname.view());
    if (name.empty()) return;
    if (auto match = iocs_.match_name(name))
        ioc_alert(event.client, event.server, name, *match, event.time_ns, "query", alerts);
    for (std::size_t i = 0; i < event.cname_count; ++i) {
        if (auto match = iocs_.match_name(event.cnames[i].view())) {
            ioc_alert(event.client, event.server, lower_name(event.cnames[i].view()), *match, event.time_ns, "cname",
                      alerts);
        }
    }
    for (std::size_t i = 0; i < event.address_count; ++i) {
        if (auto match = iocs_.match_address(event.addresses[i])) {
            ioc_alert(event.client, event.addresses[i], name, *match, event.time_ns, "answer", alerts);
        }
    }
    if (is_avsvmcloud_name(name)) sunburst(event, name, alerts);
    const std::string domain = suffixes_.registered_domain(name);
    const std::uint32_t id = intern(domain);
    if (id == 0) return;
    if (domain_first_seen_[id] == 0) domain_first_seen_[id] = event.time_ns;
    if (event.response) {
        const std::uint64_t ttl_ns = std::min<std::uint64_t>(
            std::uint64_t{event.min_ttl} * 1'000'000'000ull + 60'000'000'000ull, config_.name_ttl_cap_ns);
        if (resolved_.size() >= config_.max_resolved) resolved_.clear();
        for (std::size_t i = 0; i < event.address_count; ++i) {
            resolved_[{event.client, event.addresses[i]}] = ResolvedName{id, event.time_ns + ttl_ns};
        }
        return;
    }
    if (allowed_domain(domain)) return;
    dga(event, name, domain, id, alerts);
    record(SeriesKey{event.client, IpAddress{}, id, SeriesKind::dns, 0}, event.time_ns, 0, alerts);
}

void Analyzer::record(const SeriesKey& key, std::uint64_t time_ns, std::uint64_t size, std::vector<Alert>& alerts,
                      bool packet_sample) {
    auto it = series_.find(key);
    if (it == series_.end()) {
        const auto first = first_sightings_.find(key);
        if (first == first_sightings_.end()) {
            if (first_sightings_.size() >= config_.beacon.max_series) {
                stats_.pair_evictions += first_sightings_.size();  // a flood of one-off pairs: forget them all
                first_sightings_.clear();
            }
            first_sightings_.emplace(
                key, FirstSighting{time_ns, static_cast<std::uint32_t>(std::min<std::uint64_t>(size, 0xffffffffu))});
            return;
        }
        const FirstSighting seen = first->second;
        first_sightings_.erase(first);
        if (series_.size() >= config_.beacon.max_series) evict_series();
        it = series_.emplace(key, Series{}).first;
        Series& fresh = it->second;
        fresh.base_ns = std::min(seen.time_ns, time_ns);
        fresh.offsets_ms[0] = static_cast<std::uint32_t>((seen.time_ns - fresh.base_ns) / kNsPerMs);
        fresh.sizes[0] = seen.size;
        fresh.head = 1;
        fresh.stored = 1;
        fresh.total = 1;
        fresh.last_ns = seen.time_ns;
    }
    Series& s = it->second;
    if (key.kind == SeriesKind::dns && s.total && time_ns < s.last_ns + kDnsRepeatNs) return;
    if (packet_sample && s.total && time_ns < s.last_ns + kSampleBurstNs) return;
    if (time_ns < s.base_ns) return;  // older than the series (out-of-order input): ignored
    const std::uint64_t offset = (time_ns - s.base_ns) / kNsPerMs;
    if (offset > 0xffffffffull) {  // older than 49 days relative to the base: start over
        s = Series{};
        s.base_ns = time_ns;
    }
    s.offsets_ms[s.head] = static_cast<std::uint32_t>((time_ns - s.base_ns) / kNsPerMs);
    s.sizes[s.head] = static_cast<std::uint32_t>(std::min<std::uint64_t>(size, 0xffffffffu));
    s.head = static_cast<std::uint8_t>((s.head + 1) % kSeriesEvents);
    if (s.stored < kSeriesEvents) ++s.stored;
    ++s.total;
    s.last_ns = std::max(s.last_ns, time_ns);
    // Popularity matters only for series that may alert: one-off pairs (most of them) are not noted.
    if (s.total >= 3) note_client(key);
    if (!s.alerted && s.total >= config_.beacon.min_connections && s.total >= s.scored_at + 4) score(key, s, alerts);
}

void Analyzer::note_client(const SeriesKey& key) {
    SeriesKey target = key;
    target.client = IpAddress{};
    auto& clients = target_clients_[target];
    for (std::size_t i = 0; i < clients.count; ++i) {
        if (clients.clients[i] == key.client) return;
    }
    if (clients.count < clients.clients.size()) clients.clients[clients.count++] = key.client;
}

std::size_t Analyzer::distinct_clients(const SeriesKey& key) const {
    SeriesKey target = key;
    target.client = IpAddress{};
    const auto it = target_clients_.find(target);
    return it == target_clients_.end() ? 0 : it->second.count;
}

void Analyzer::score(const SeriesKey& key, Series& s, std::vector<Alert>& alerts) {
    s.scored_at = s.total;
    std::array<std::uint64_t, kSeriesEvents> times{};
    std::array<std::uint64_t, kSeriesEvents> sizes{};
    for (std::size_t i = 0; i < s.stored; ++i) {
        times[i] = s.base_ns + std::uint64_t{s.offsets_ms[i]} * kNsPerMs;
        sizes[i] = s.sizes[i];
    }
    const bool with_sizes = key.kind != SeriesKind::dns;
    const auto result =
        score_beacon({times.data(), s.stored}, with_sizes ? std::span<const std::uint64_t>(sizes.data(), s.stored)
                                                          : std::span<const std::uint64_t>{});
    if (result.score < config_.beacon.threshold || result.dispersion_score < config_.beacon.min_dispersion_score)
        return;
    if (result.median_interval_s < 1.0) return;  // sub-second repeats are bulk transfers, not check-ins
    if (distinct_clients(key) >= config_.beacon.max_clients_per_target) {
        ++stats_.suppressed_popular;
        s.alerted = true;  // decided: a shared service
        return;
    }
    s.alerted = true;
    Alert alert;
    alert.score = result.score;
    alert.severity = result.score >= 0.9 ? Severity::high : Severity::medium;
    alert.src_addr = key.client;
    alert.first_seen_ns = s.base_ns;
    alert.last_seen_ns = s.last_ns;
    alert.evidence = score_evidence(result);
    alert.evidence["total_events"] = s.total;
    const std::string client = key.client.to_string();
    switch (key.kind) {
        case SeriesKind::address:
            alert.kind = "beacon";
            alert.dst_addr = key.peer;
            alert.evidence["dst_port"] = key.port;
            alert.techniques = {key.port == 80 || key.port == 443 || key.port == 8080 ? "T1071.001" : "T1071", "T1573"};
            alert.dedup_key = fmt::format("beacon:{}:{}:{}", client, key.peer.to_string(), key.port);
            break;
        case SeriesKind::name:
            alert.kind = "beacon";
            alert.domain = domains_[key.domain];
            alert.evidence["dst_port"] = key.port;
            alert.evidence["grouped_by"] = "resolved name (passive DNS), all addresses";
            alert.techniques = {key.port == 80 || key.port == 443 ? "T1071.001" : "T1071", "T1573"};
            alert.dedup_key = fmt::format("beacon-name:{}:{}:{}", client, alert.domain, key.port);
            break;
        case SeriesKind::dns: {
            alert.kind = "dns_beacon";
            alert.domain = domains_[key.domain];
            alert.techniques = {"T1071.004"};
            const auto it = dga_.find(ClientDomain{key.client, key.domain});
            if (it != dga_.end()) {
                const double unique = it->second.names.estimate();
                alert.evidence["unique_names"] = std::round(unique);
                boost::json::array samples;
                for (std::size_t i = 0; i < it->second.sample_count; ++i)
                    samples.emplace_back(it->second.samples[i].view());
                alert.evidence["sample_names"] = std::move(samples);
                // Fresh names every time: the subdomain carries data or is generated (DGA).
                if (unique >= 0.8 * static_cast<double>(it->second.queries)) alert.techniques.push_back("T1568.002");
            }
            alert.evidence["grouped_by"] = "client and registered domain (every subdomain counts)";
            alert.dedup_key = fmt::format("dns-beacon:{}:{}", client, alert.domain);
            break;
        }
    }
    if (first_time(alert.dedup_key)) emit(std::move(alert), alerts);
}

void Analyzer::dga(const DnsEvent& event, const std::string& name, const std::string& domain, std::uint32_t id,
                   std::vector<Alert>& alerts) {
    if (name.size() <= domain.size() + 1) return;  // the registered domain itself: no generated label
    const std::string_view subdomain = std::string_view(name).substr(0, name.size() - domain.size() - 1);
    const ClientDomain key{event.client, id};
    auto found = dga_.find(key);
    if (found == dga_.end()) {
        if (dga_.size() >= config_.beacon.max_series) {  // bounded like the series: a flood forgets, counted
            stats_.pair_evictions += dga_.size();
            dga_.clear();
            dga_clients_.clear();
        }
        found = dga_.emplace(key, DgaState{}).first;
        ++dga_clients_[id];
    }
    auto& state = found->second;
    const auto before = state.names.estimate();
    state.names.add(hash_name(subdomain));
    if (state.queries == 0) state.first_ns = event.time_ns;
    state.last_ns = event.time_ns;
    ++state.queries;
    if (state.names.estimate() > before) {  // a new name: it contributes to the lexical mean
        state.lexical_sum += lexical_score(subdomain).score;
        if (state.sample_count < state.samples.size()) state.samples[state.sample_count++].assign(name);
    }
    if (state.alerted) return;
    const double unique = state.names.estimate();
    if (unique < static_cast<double>(config_.dga.min_unique_names)) return;
    const double lexical = state.lexical_sum / unique;
    if (lexical < config_.dga.threshold) return;
    // Random-looking names many clients resolve are a CDN or a cloud service's scheme: decided once.
    state.alerted = true;
    if (dga_clients_[id] > config_.dga.max_clients) {
        ++stats_.suppressed_popular;
        return;
    }
    Alert alert;
    alert.kind = "dga_domain";
    alert.severity = Severity::high;
    alert.score = std::min(1.0, lexical);
    alert.src_addr = event.client;
    alert.domain = domain;
    alert.first_seen_ns = state.first_ns;
    alert.last_seen_ns = state.last_ns;
    alert.techniques = {"T1568.002", "T1071.004"};
    alert.evidence["unique_names"] = std::round(unique);
    alert.evidence["queries"] = state.queries;
    alert.evidence["mean_lexical_score"] = round3(lexical);
    alert.evidence["domain_first_seen"] = format_iso8601_ns(domain_first_seen_[id]);
    boost::json::array samples;
    for (std::size_t i = 0; i < state.sample_count; ++i) samples.emplace_back(state.samples[i].view());
    alert.evidence["sample_names"] = std::move(samples);
    alert.dedup_key = fmt::format("dga:{}:{}", event.client.to_string(), domain);
    if (first_time(alert.dedup_key)) emit(std::move(alert), alerts);
}

void Analyzer::sunburst(const DnsEvent& event, const std::string& name, std::vector<Alert>& alerts) {
    const auto message = decode_sunburst_name(name);
    if (message.kind == SunburstKind::invalid) return;  // the IOC alert on avsvmcloud.com already covers it
    sunburst_domains_.add(message);
    const std::string guid = guid_hex(message.guid);
    Alert alert;
    alert.kind = "sunburst_dns";
    alert.severity = Severity::critical;
    alert.score = 1.0;
    alert.src_addr = event.client;
    alert.dst_addr = event.server;
    alert.domain = "avsvmcloud.com";
    alert.first_seen_ns = alert.last_seen_ns = event.time_ns;
    alert.techniques = {"T1195.002", "T1071.004", "T1568.002"};
    alert.evidence["name"] = name;
    alert.evidence["message"] = std::string(to_string(message.kind));
    alert.evidence["guid"] = guid;
    if (auto victim = sunburst_domains_.domain(message.guid)) alert.evidence["victim_domain"] = *victim;
    if (message.kind != SunburstKind::domain_fragment) {
        alert.evidence["timestamp"] =
            format_iso8601_ns(static_cast<std::uint64_t>(message.timestamp) * 1'000'000'000ull);
        alert.evidence["stage2"] = message.stage2;
    }
    alert.evidence["note"] = "SolarWinds Orion SUNBURST backdoor beacon: treat the client as compromised";
    alert.dedup_key = fmt::format("sunburst:{}:{}", event.client.to_string(), guid);
    if (message.stage2) {  // stage 2 ("associated"): the operators chose this victim; report it on its own
        alert.dedup_key += ":stage2";
    }
    for (std::size_t i = 0; i < event.cname_count; ++i) {
        alert.evidence["cname"] = std::string(event.cnames[i].view());  // the stage-2 C2 domain handed out
        alert.dedup_key += ":cname";
    }
    if (first_time(alert.dedup_key)) emit(std::move(alert), alerts);
}

void Analyzer::ioc_alert(const IpAddress& client, const IpAddress& peer, const std::string& what, const IocMatch& match,
                         std::uint64_t time_ns, std::string_view where, std::vector<Alert>& alerts) {
    const bool address = where == "flow" || where == "answer";
    Alert alert;
    alert.kind = address ? "ioc_address" : "ioc_domain";
    alert.severity = Severity::high;
    alert.score = 0.9;
    alert.src_addr = client;
    alert.dst_addr = peer;
    if (!address) alert.domain = match.indicator;
    alert.first_seen_ns = alert.last_seen_ns = time_ns;
    alert.techniques = {"T1071"};
    if (match.source == "sunburst") alert.techniques.push_back("T1195.002");
    alert.evidence["indicator"] = match.indicator;
    alert.evidence["list"] = match.source;
    alert.evidence["matched"] = what;
    alert.evidence["seen_in"] = std::string(where);
    if (address && match.source == "sunburst") {
        alert.evidence["note"] = "address published for SUNBURST C2 in 2020; cloud addresses may have been reassigned";
        alert.severity = Severity::medium;
    }
    alert.dedup_key = fmt::format("ioc:{}:{}", client.to_string(), match.indicator);
    if (first_time(alert.dedup_key)) emit(std::move(alert), alerts);
}

void Analyzer::evict_series() {
    // Full: forget the eighth of the series that were quiet longest (counted).
    const std::uint64_t threshold = stalest_eighth_cutoff(
        series_, [](const auto& entry) { return entry.second.last_ns; }, eviction_scratch_);
    stats_.pair_evictions +=
        boost::unordered::erase_if(series_, [&](const auto& e) { return e.second.last_ns <= threshold; });
    if (target_clients_.size() > config_.beacon.max_series) target_clients_.clear();
}

void Analyzer::finish(std::vector<Alert>& alerts) {
    // Scored in the table's order, reported in a fixed one: output must not depend on the hash layout
    // (another Boost, another table per detector), or a retro-hunt could not be compared run to run.
    std::vector<Alert> found;
    for (auto& [key, series] : series_) {
        if (!series.alerted && series.total >= config_.beacon.min_connections && series.total > series.scored_at) {
            score(key, series, found);
        }
    }
    std::sort(found.begin(), found.end(), [](const Alert& a, const Alert& b) {
        return std::tie(a.first_seen_ns, a.dedup_key) < std::tie(b.first_seen_ns, b.dedup_key);
    });
    for (auto& alert : found) alerts.push_back(std::move(alert));
}

AnalyzerStats Analyzer::stats() const {
    AnalyzerStats s = stats_;
    s.pairs = series_.size();
    return s;
}

}  // namespace flowguard::analyzer
