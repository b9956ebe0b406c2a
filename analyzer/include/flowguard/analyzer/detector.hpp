#pragma once
// The detectors' one interface. A detector sees whole batches of DNS events and flow records, with the
// shared passive-DNS context (resolvers, names of addresses, registered domains, query names) already brought
// up to date by the batch; it keeps its own per-host state and raises alerts through AlertOut. Detectors run
// on a shard (the records of the hosts routed there) or in the single-threaded runner; all state is bounded by
// configuration. Event time (the records' own timestamps) is the clock, so live runs and retro-hunts agree.
//
// A new detector is one header and one source file here (its config section, counters and metrics beside its
// logic), one line in analyzer.cpp's list and, for its configuration, one member in AnalyzerConfig.
#include <flowguard/analyzer/detector_stats.hpp>
#include <flowguard/analyzer/passive_dns.hpp>
#include <flowguard/core/alert.hpp>
#include <flowguard/core/counters.hpp>
#include <flowguard/core/dns_event.hpp>
#include <flowguard/core/flow_record.hpp>

#include <boost/json/object.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace flowguard::analyzer {

struct AnalyzerLists;

// A batch of DNS events and what the context made of each (notes[i] describes events[i]).
struct DnsBatchView {
    std::span<const DnsEvent> events;
    std::span<const DnsNote> notes;
    const PassiveDns& context;
};

struct FlowBatchView {
    std::span<const FlowRecord> records;
    const PassiveDns& context;
};

// Where detectors raise alerts. A finding is opened once (its dedup key is stable across runs and restarts);
// raised again it is `ongoing` (passed on at most every kOngoingNs of event time, so the ledger knows the
// behaviour goes on), or, when another series of the same client and destination (address, resolved name, DNS)
// reports it, an `updated` alert with the evidence of both. Alerts carry the index of the event that raised
// them, so the analyzer reports a batch's alerts in the order a record-by-record pass would have, whichever
// detector raised them.
class AlertOut {
public:
    static constexpr std::uint32_t kAtEnd = UINT32_MAX;  // raised by finish(): no event
    static constexpr std::uint64_t kOngoingNs = 600'000'000'000ull;
    // Detectors say a reported finding goes on at most this often (event time): an `ongoing` built for every
    // event of a fast beacon or DGA would mostly be dropped here, and building them took a third of the CPU.
    static constexpr std::uint64_t kContinuingEveryNs = 60'000'000'000ull;

    // Sets the alert's id (dedup key @ first-seen second) and keeps it; see above for a known dedup key.
    void raise(Alert alert, std::uint32_t event_index);
    // An update of a finding raised before (same dedup key and first-seen time, hence the same id): always
    // passed on, marked `updated`.
    void update(Alert alert, std::uint32_t event_index);
    // The alerts raised since the last call, in event order; appended to `out`.
    void take(std::vector<Alert>& out);
    std::uint64_t raised() const noexcept { return raised_; }

private:
    struct Reported {
        std::uint64_t first_seen_ns = 0;
        std::uint64_t ongoing_ns = 0;  // last_seen of the last alert passed on
        std::uint8_t series = 0;       // the series (bits of series_of) that reported the finding
        std::uint32_t merged = 0;      // index + 1 into merged_ of the finding's alert as last reported; 0: none
    };
    void keep(std::uint32_t event_index, Alert alert);
    void merge_into(Reported& known, Alert alert, std::uint32_t event_index);

    std::vector<std::pair<std::uint32_t, Alert>> pending_;
    std::unordered_map<std::string, Reported> reported_;
    std::vector<Alert> merged_;  // the mergeable findings' alerts (beacons), bounded with reported_
    std::uint64_t raised_ = 0;
};

class Detector {
public:
    virtual ~Detector() = default;
    virtual std::string_view name() const = 0;
    virtual void on_dns(const DnsBatchView& batch, AlertOut& out) {
        (void)batch;
        (void)out;
    }
    virtual void on_flows(const FlowBatchView& batch, AlertOut& out) {
        (void)batch;
        (void)out;
    }
    // End of input (retro-hunt, or a live shard stopping): decide what is pending.
    virtual void finish(const PassiveDns& context, AlertOut& out) {
        (void)context;
        (void)out;
    }
    // SIGHUP: the reloaded indicator and allow-lists.
    virtual void reload(const AnalyzerLists& lists) { (void)lists; }
    virtual DetectorStats stats() const { return {}; }
    // The detector's own counters (each declares its table beside its logic), written as metrics; the analyzer
    // calls it when it publishes, on the detector's thread.
    virtual void write_metrics(MetricSink& sink) const { (void)sink; }
};

}  // namespace flowguard::analyzer
