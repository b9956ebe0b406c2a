#include <flowguard/analyzer/analyzer.hpp>
#include <flowguard/analyzer/beacon_detector.hpp>
#include <flowguard/analyzer/dga_detector.hpp>
#include <flowguard/analyzer/dns_beacon_detector.hpp>
#include <flowguard/analyzer/ioc_detector.hpp>
#include <flowguard/analyzer/sunburst_detector.hpp>

namespace flowguard::analyzer {

Analyzer::Analyzer(const AnalyzerConfig& config, const NetworkSet& internal, PublicSuffixList suffixes, IocList iocs,
                   const ListUpdates* updates)
    : context_(passive_dns_config(config), internal, std::move(suffixes)), updates_(updates) {
    // In this order, which is the order of one event's alerts: indicators first, the behaviours after.
    detectors_.push_back(std::make_unique<IocDetector>(std::move(iocs)));
    detectors_.push_back(std::make_unique<SunburstDetector>());
    detectors_.push_back(std::make_unique<DgaDetector>(config.dga));
    auto beacon = std::make_unique<BeaconDetector>(config.beacon);
    const Relays* relays = &beacon->relays();  // the DNS series of a proxy resolving for its clients
    detectors_.push_back(std::move(beacon));
    detectors_.push_back(std::make_unique<DnsBeaconDetector>(config.beacon, relays));
    if (updates_ != nullptr) lists_generation_ = updates_->generation();
}

void Analyzer::reload(const AnalyzerLists& lists) {
    context_.replace_allow_list(lists.allow_domains);
    for (auto& d : detectors_) d->reload(lists);
}

// SIGHUP replaced the lists: series already decided stay decided; new scores use the new lists.
void Analyzer::check_lists() {
    if (updates_ == nullptr || updates_->generation() == lists_generation_) return;
    lists_generation_ = updates_->generation();
    reload(*updates_->current());
}

void Analyzer::on_dns(std::span<const DnsEvent> events, std::uint64_t, Alerts& alerts) {
    check_lists();
    dns_events_ += events.size();
    context_.update(events, notes_);
    const DnsBatchView batch{events, notes_, context_};
    for (auto& d : detectors_) d->on_dns(batch, out_);
    out_.take(alerts);
}

void Analyzer::on_flows(std::span<const FlowRecord> records, std::uint64_t, Alerts& alerts) {
    check_lists();
    flows_ += records.size();
    const FlowBatchView batch{records, context_};
    for (auto& d : detectors_) d->on_flows(batch, out_);
    out_.take(alerts);
}

void Analyzer::finish(Alerts& alerts) {
    for (auto& d : detectors_) d->finish(context_, out_);
    out_.take(alerts);
}

AnalyzerStats Analyzer::stats() const {
    DetectorStats detectors;
    for (const auto& d : detectors_) merge_counters(detectors, d->stats(), kDetectorStats);
    const auto context = context_.stats();
    // The query-name table's evictions count with the series': both are per-(client, target) state forgotten.
    return {flows_,
            dns_events_,
            out_.raised(),
            detectors.series,
            detectors.series_evictions + context.names_evictions,
            detectors.suppressed_popular,
            context.resolvers_learned,
            context.entries,
            context.domains_untracked,
            context.domains_forgotten,
            context.domains};
}

void Analyzer::publish() {
    MetricSamples samples;  // built outside the lock
    write_metrics(samples, stats(), kAnalyzerStats);
    for (const auto& d : detectors_) {
        write_metrics(samples, d->stats(), kDetectorStats, {d->name()});
        d->write_metrics(samples);
    }
    std::lock_guard lock(published_mutex_);
    published_ = std::move(samples);
}

void Analyzer::write_published_metrics(MetricSink& sink) const {
    std::lock_guard lock(published_mutex_);
    published_.write_to(sink);
}

void Analyzer::append_metric_specs(std::vector<MetricSpec>& catalog) {
    flowguard::append_metric_specs(catalog, kAnalyzerStats);
    flowguard::append_metric_specs(catalog, kDetectorStats, {"detector"});
    flowguard::append_metric_specs(catalog, kConnectionCounters);
    flowguard::append_metric_specs(catalog, kHoldCounters, {"detector"});
    flowguard::append_metric_specs(catalog, kRelayCounters);
    flowguard::append_metric_specs(catalog, kRelaySuppression);
    flowguard::append_metric_specs(catalog, kRelayQueries);
    flowguard::append_metric_specs(catalog, kDgaCounters);
    flowguard::append_metric_specs(catalog, kSunburstCounters, {"result"});
    flowguard::append_metric_specs(catalog, kIocCounters, {"seen_in"});
}

}  // namespace flowguard::analyzer
