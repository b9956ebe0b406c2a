#include "rounding.hpp"

#include <flowguard/analyzer/beacon_series.hpp>
#include <flowguard/analyzer/detector.hpp>
#include <flowguard/core/stalest.hpp>

#include <boost/container_hash/hash.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>

namespace flowguard::analyzer {
namespace {

constexpr std::uint64_t kNsPerMs = 1'000'000;
constexpr std::uint64_t kNsPerSecond = 1'000'000'000;
constexpr std::uint64_t kMinSleepNs = 3600 * kNsPerSecond;  // a client idle this long (or longer) is asleep
// A schedule is a schedule once it has lasted this long: ten page loads in 20 s (a burst of browsing) are
// regular enough, but they are not check-ins; a fast beacon keeps going and is decided once it has lasted.
constexpr std::uint64_t kMinScheduleNs = 300 * kNsPerSecond;
constexpr std::uint64_t kPopularityWindowNs = 86'400ull * 1'000'000'000;  // a sliding day

}  // namespace

void read_beacon_config(const YAML::Node& b, const std::string& bk, BeaconConfig& beacon) {
    yaml::require_known_keys(
        b, bk,
        {"min_connections", "threshold", "min_dispersion_score", "max_clients_per_target", "max_series",
         "connection_timeout", "max_connections", "long_connection", "hold", "relays", "relay_threshold",
         "relay_min_clients", "relay_min_destinations", "relay_window", "allow_ports", "allow_domains"});
    if (b["min_connections"])
        beacon.min_connections = yaml::unsigned_value(b["min_connections"], bk + ".min_connections", 48);
    if (beacon.min_connections < 4) throw ConfigError(bk + ".min_connections", "must be at least 4");
    if (b["threshold"]) beacon.threshold = yaml::unit_value(b["threshold"], bk + ".threshold");
    if (b["min_dispersion_score"])
        beacon.min_dispersion_score = yaml::unit_value(b["min_dispersion_score"], bk + ".min_dispersion_score");
    if (b["max_clients_per_target"])
        beacon.max_clients_per_target =
            yaml::unsigned_value(b["max_clients_per_target"], bk + ".max_clients_per_target", 8);
    if (b["max_series"]) beacon.max_series = yaml::unsigned_value(b["max_series"], bk + ".max_series", 1u << 26);
    if (beacon.max_series < 16) throw ConfigError(bk + ".max_series", "must be at least 16");
    if (b["connection_timeout"]) {
        beacon.connection_timeout_ns = yaml::duration_value(b["connection_timeout"], bk + ".connection_timeout");
        if (beacon.connection_timeout_ns < kNsPerSecond || beacon.connection_timeout_ns > 86'400 * kNsPerSecond)
            throw ConfigError(bk + ".connection_timeout", "must be between 1s and 1d");
    }
    if (b["max_connections"])
        beacon.max_connections = yaml::unsigned_value(b["max_connections"], bk + ".max_connections", 1u << 26);
    if (beacon.max_connections < 16) throw ConfigError(bk + ".max_connections", "must be at least 16");
    if (b["long_connection"]) {
        beacon.long_connection_ns = yaml::duration_value(b["long_connection"], bk + ".long_connection");
        if (beacon.long_connection_ns > 30 * 86'400 * kNsPerSecond)
            throw ConfigError(bk + ".long_connection", "must be at most 30d (0 turns it off)");
    }
    if (b["hold"]) {
        beacon.hold_ns = yaml::duration_value(b["hold"], bk + ".hold");
        if (beacon.hold_ns > 86'400 * kNsPerSecond) throw ConfigError(bk + ".hold", "must be at most 1d (0: none)");
    }
    read_relay_config(b, bk, beacon.relay);
    if (b["allow_ports"]) {
        beacon.allow_ports.clear();
        const auto& ports = b["allow_ports"];
        if (!ports.IsSequence()) throw ConfigError(bk + ".allow_ports", "expected a list of ports");
        for (std::size_t i = 0; i < ports.size(); ++i)
            beacon.allow_ports.push_back(static_cast<std::uint16_t>(
                yaml::unsigned_value(ports[i], fmt::format("{}.allow_ports[{}]", bk, i), 65535)));
    }
    if (b["allow_domains"]) beacon.allow_domains = yaml::string_list(b["allow_domains"], bk + ".allow_domains");
}

void write_beacon_config(YAML::Emitter& out, const BeaconConfig& b) {
    out << YAML::BeginMap << YAML::Key << "min_connections" << YAML::Value << b.min_connections << YAML::Key
        << "threshold" << YAML::Value << b.threshold << YAML::Key << "min_dispersion_score" << YAML::Value
        << b.min_dispersion_score << YAML::Key << "max_clients_per_target" << YAML::Value << b.max_clients_per_target
        << YAML::Key << "max_series" << YAML::Value << b.max_series << YAML::Key << "connection_timeout" << YAML::Value
        << yaml::seconds(b.connection_timeout_ns) << YAML::Key << "max_connections" << YAML::Value << b.max_connections
        << YAML::Key << "long_connection" << YAML::Value << yaml::seconds(b.long_connection_ns) << YAML::Key << "hold"
        << YAML::Value << yaml::seconds(b.hold_ns);
    write_relay_config(out, b.relay);
    out << YAML::Key << "allow_ports" << YAML::Value << YAML::Flow << b.allow_ports << YAML::Key << "allow_domains"
        << YAML::Value << YAML::Flow << b.allow_domains << YAML::EndMap;
}

std::size_t BeaconSeries::KeyHash::operator()(const SeriesKey& k) const noexcept {
    std::size_t h = hash_value(k.client);
    boost::hash_combine(h, hash_value(k.peer));
    boost::hash_combine(h, std::uint64_t{k.domain} << 24 | std::uint64_t{k.port} << 8 | k.kind);
    return h;
}

BeaconSeries::BeaconSeries(const BeaconConfig& config, bool with_sizes)
    : config_(config), with_sizes_(with_sizes), popularity_(kPopularityWindowNs, config.max_series) {
    // No rehash on the hot path; the slots' memory is touched only when used.
    series_.reserve(config_.max_series);
    first_sightings_.reserve(config_.max_series);
}

BeaconSeries::Series& BeaconSeries::promote(const SeriesKey& key, const FirstSighting& seen, std::uint64_t time_ns) {
    if (series_.size() >= config_.max_series) evict();
    Series& fresh = series_.emplace(key, Series{}).first->second;
    fresh.base_ns = std::min(seen.time_ns, time_ns);
    fresh.offsets_ms[0] = static_cast<std::uint32_t>((seen.time_ns - fresh.base_ns) / kNsPerMs);
    fresh.sizes[0] = seen.size;
    fresh.head = 1;
    fresh.stored = 1;
    fresh.total = 1;
    fresh.last_ns = seen.time_ns;
    return fresh;
}

std::optional<BeaconFinding> BeaconSeries::record(const SeriesKey& key, std::uint64_t time_ns, std::uint64_t size,
                                                  std::uint64_t repeat_ns, const SeriesKey* alias,
                                                  const IpAddress* via) {
    auto it = series_.find(key);
    Series* found = it == series_.end() ? nullptr : &it->second;
    if (found == nullptr) {
        const auto first = first_sightings_.find(key);
        if (first == first_sightings_.end()) {
            if (first_sightings_.size() >= config_.max_series) {
                evictions_ += first_sightings_.size();  // a flood of one-off pairs: forget them all
                first_sightings_.clear();
            }
            first_sightings_.emplace(
                key, FirstSighting{time_ns, static_cast<std::uint32_t>(std::min<std::uint64_t>(size, 0xffffffffu))});
            return std::nullopt;
        }
        const FirstSighting seen = first->second;
        first_sightings_.erase(first);
        found = &promote(key, seen, time_ns);
    }
    Series& s = *found;
    if (repeat_ns != 0 && s.total && time_ns < s.last_ns + repeat_ns) return std::nullopt;
    if (time_ns < s.base_ns) return std::nullopt;            // older than the series (out-of-order input): ignored
    if ((time_ns - s.base_ns) / kNsPerMs > 0xffffffffull) {  // older than 49 days relative to the base: start over
        s = Series{};
        s.base_ns = time_ns;
    }
    s.offsets_ms[s.head] = static_cast<std::uint32_t>((time_ns - s.base_ns) / kNsPerMs);
    s.sizes[s.head] = static_cast<std::uint32_t>(std::min<std::uint64_t>(size, 0xffffffffu));
    s.head = static_cast<std::uint8_t>((s.head + 1) % kEvents);
    if (s.stored < kEvents) ++s.stored;
    ++s.total;
    s.last_ns = std::max(s.last_ns, time_ns);
    if (alias != nullptr) {
        s.alias_domain = alias->domain;
        s.alias_kind = alias->kind;
    }
    if (via != nullptr) s.via = *via;
    // Popularity matters only for series that may alert: one-off pairs (most of them) are not noted.
    if (s.total >= 3) popularity_.note(target_of(key), key.client, time_ns);
    if (!s.decided && s.total >= config_.min_connections && s.total >= s.scored_at + 4 && lasted(s))
        return score(key, s);
    if (s.reported) {
        if (!goes_on_now(s)) return std::nullopt;
        BeaconFinding goes_on{key, {}, s.base_ns, s.last_ns, s.total, 0, s.alias_domain, s.via};
        goes_on.continuing = true;
        return goes_on;
    }
    return std::nullopt;
}

// A reported series says it goes on at most every kContinuingEveryNs of event time: each such finding becomes
// an alert (evidence, dedup key) that AlertOut passes on at most every kOngoingNs.
bool BeaconSeries::goes_on_now(Series& s) noexcept {
    const std::uint64_t at_ms = (s.last_ns - s.base_ns) / kNsPerMs;
    if (at_ms < std::uint64_t{s.continued_ms} + AlertOut::kContinuingEveryNs / kNsPerMs) return false;
    s.continued_ms = static_cast<std::uint32_t>(at_ms);
    return true;
}

void BeaconSeries::mark_reported(Series& s) noexcept {
    s.reported = true;
    s.continued_ms = static_cast<std::uint32_t>((s.last_ns - s.base_ns) / kNsPerMs);
}

bool BeaconSeries::lasted(const Series& s) noexcept {
    return s.last_ns - s.base_ns >= kMinScheduleNs;
}

DestinationKey BeaconSeries::target_of(const SeriesKey& key) noexcept {
    return {key.peer, key.domain, key.port, key.kind};
}

bool BeaconSeries::popular(const SeriesKey& key, const Series& s) const {
    if (popularity_.clients(target_of(key), s.last_ns) >= config_.max_clients_per_target) return true;
    if (s.alias_domain == 0) return false;
    const DestinationKey alias{IpAddress{}, s.alias_domain, key.port, s.alias_kind};
    return popularity_.clients(alias, s.last_ns) >= config_.max_clients_per_target;
}

std::optional<BeaconFinding> BeaconSeries::score(const SeriesKey& key, Series& s) {
    s.scored_at = s.total;
    std::array<std::uint64_t, kEvents> times{};
    std::array<std::uint64_t, kEvents> sizes{};
    for (std::size_t i = 0; i < s.stored; ++i) {
        times[i] = s.base_ns + std::uint64_t{s.offsets_ms[i]} * kNsPerMs;
        sizes[i] = s.sizes[i];
    }
    const std::uint64_t asleep = waking_times(key, {times.data(), s.stored});
    const auto result = score_beacon(
        {times.data(), s.stored},
        with_sizes_ ? std::span<const std::uint64_t>(sizes.data(), s.stored) : std::span<const std::uint64_t>{},
        asleep);
    if (result.score < config_.threshold || result.dispersion_score < config_.min_dispersion_score) return std::nullopt;
    if (result.median_interval_s < 1.0) return std::nullopt;  // sub-second repeats are bulk transfers, not check-ins
    bool relay_own = false;
    if (short_of_relay_evidence(key, result, relay_own)) return std::nullopt;
    s.decided = true;
    if (popular(key, s)) {  // decided: a shared service
        ++suppressed_popular_;
        return std::nullopt;
    }
    BeaconFinding finding{
        key,  result, s.base_ns, s.last_ns, s.total, static_cast<std::uint32_t>(std::popcount(asleep)), s.alias_domain,
        s.via};
    finding.relay_own = relay_own;
    if (config_.hold_ns != 0) {  // held: reported by release() if the target is still not popular then
        held_.push_back({finding, s.last_ns + config_.hold_ns});
        next_release_ns_ = std::min(next_release_ns_, held_.back().release_ns);
        return std::nullopt;
    }
    mark_reported(s);
    return finding;
}

std::uint64_t BeaconSeries::waking_times(const SeriesKey& key, std::span<std::uint64_t> times) const {
    std::sort(times.begin(), times.end());
    if (activity_ == nullptr || times.size() < 3) return 0;
    std::array<std::uint64_t, kEvents> gaps{};
    for (std::size_t i = 1; i < times.size(); ++i) gaps[i - 1] = times[i] - times[i - 1];
    const std::size_t n = times.size() - 1;
    std::nth_element(gaps.begin(), gaps.begin() + static_cast<std::ptrdiff_t>(n / 2),
                     gaps.begin() + static_cast<std::ptrdiff_t>(n));
    const std::uint64_t sleep_ns = std::max(kMinSleepNs, 2 * gaps[n / 2]);
    std::uint64_t shift = 0;
    std::uint64_t asleep = 0;
    std::uint64_t previous = times[0];
    for (std::size_t i = 1; i < times.size(); ++i) {
        const std::uint64_t gap = times[i] - previous;
        previous = times[i];
        if (gap >= sleep_ns) {
            // Only the sleep itself leaves the clock: the client's waking hours on either side still count, so
            // two bursts of browsing a day apart stay far apart (coverage), while the interval itself, cut short
            // by the sleep, says nothing of the period and is left out of the interval statistics.
            const std::uint64_t idle = activity_->asleep_ns(key.client, times[i] - gap, times[i], sleep_ns);
            if (idle >= sleep_ns) {
                shift += idle;
                asleep |= std::uint64_t{1} << (i - 1);
            }
        }
        times[i] -= shift;
    }
    return asleep;
}

void BeaconSeries::evict() {
    // Full: forget the eighth of the series that were quiet longest (counted).
    const std::size_t erased = erase_stalest_eighth(
        series_, [](const auto& entry) { return entry.second.last_ns; }, eviction_scratch_);
    evictions_ += erased;
    series_churn_.erased(series_, erased);
}

// A relay's own series mixes many clients' traffic: periodic enough for one client is not enough for it.
bool BeaconSeries::short_of_relay_evidence(const SeriesKey& key, const BeaconScore& score, bool& relay_own) {
    if (!relay_own) relay_own = relays_ != nullptr && relays_->is_relay(key.client);
    if (!relay_own || score.score >= config_.relay.threshold) return false;
    ++suppressed_relay_;
    return true;
}

std::vector<BeaconFinding> BeaconSeries::release(std::uint64_t now_ns) {
    std::vector<BeaconFinding> findings;
    if (now_ns < next_release_ns_) return findings;
    next_release_ns_ = UINT64_MAX;
    std::size_t kept = 0;
    for (auto& h : held_) {
        if (h.release_ns > now_ns) {
            next_release_ns_ = std::min(next_release_ns_, h.release_ns);
            held_[kept++] = h;
            continue;
        }
        const auto it = series_.find(h.finding.key);
        if (it == series_.end()) {  // evicted while held: reported as it was decided
            findings.push_back(h.finding);
            continue;
        }
        Series& s = it->second;
        if (popular(h.finding.key, s)) {
            ++held_then_popular_;
            ++suppressed_popular_;
            continue;
        }
        // Learned as a relay during the hold: its own series needs the relay's evidence.
        if (short_of_relay_evidence(h.finding.key, h.finding.score, h.finding.relay_own)) continue;
        mark_reported(s);
        h.finding.last_ns = s.last_ns;
        h.finding.total = s.total;
        findings.push_back(h.finding);
    }
    held_.resize(kept);
    return findings;
}

std::vector<BeaconFinding> BeaconSeries::finish() {
    // End of input: series not decided yet are scored, then every held finding is released (popularity as
    // it stands at the end).
    std::vector<BeaconFinding> findings;
    for (auto& [key, series] : series_) {
        if (series.decided || series.total < config_.min_connections || series.total <= series.scored_at ||
            !lasted(series))
            continue;
        if (auto finding = score(key, series)) findings.push_back(*finding);
    }
    for (auto& finding : release(UINT64_MAX)) findings.push_back(finding);
    return findings;
}

DetectorStats BeaconSeries::stats() const noexcept {
    return {series_.size(), evictions_, suppressed_popular_};
}

Alert beacon_alert(std::string kind, const BeaconFinding& f) {
    const BeaconScore& s = f.score;
    Alert alert;
    alert.kind = std::move(kind);
    alert.score = s.score;
    alert.severity = s.score >= 0.9 ? Severity::high : Severity::medium;
    alert.src_addr = f.key.client;
    alert.first_seen_ns = f.first_ns;
    alert.last_seen_ns = f.last_ns;
    auto& e = alert.evidence;
    e["connections"] = s.connections;
    e["median_interval_s"] = round3(s.median_interval_s);
    e["mad_interval_s"] = round3(s.mad_interval_s);
    e["bowley_skew"] = round3(s.bowley);
    e["skew_score"] = round3(s.skew_score);
    e["regular_share"] = round3(s.regular_share);
    e["dispersion_score"] = round3(s.dispersion_score);
    e["coverage_score"] = round3(s.coverage_score);
    if (s.size_score >= 0) e["size_score"] = round3(s.size_score);
    e["observed_span_s"] = round3(s.span_s);
    e["total_events"] = f.total;
    if (f.asleep) e["intervals_asleep"] = f.asleep;
    if (!f.via.empty()) e["via_relay"] = f.via.to_string();
    if (f.relay_own) e["relay"] = true;  // the client is a proxy or NAT gateway: scored against relay_threshold
    return alert;
}

}  // namespace flowguard::analyzer
