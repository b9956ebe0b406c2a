#pragma once
// The pipeline's seams. A Source (UDP receiver, span-port capture, capture files, JSON-lines files) hands
// what it read to a RecordSink; Stages (a flow output, the detectors, traffic statistics) consume batches of
// DNS events and flow records on a shard or in the single-threaded runner; alerts leave through AlertSinks.
// Every call across these interfaces is per batch (a datagram's records, a ring's batch, a run of a capture's
// output), never per record: implementations loop over the spans themselves. The pipeline module (threads,
// shards, routing, the runner) knows nothing but these interfaces.
#include <flowguard/core/alert.hpp>
#include <flowguard/core/dns_event.hpp>
#include <flowguard/core/flow_record.hpp>
#include <flowguard/core/forward_selection.hpp>

#include <atomic>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace flowguard {

// Where a source delivers. Live, the pipeline routes each record to the shard of its internal host; offline,
// the runner passes batches straight to the stages.
class RecordSink {
public:
    virtual ~RecordSink() = default;
    // One unit of input (a datagram, a packet): its DNS events, then its flow records, which stages see in
    // that order (the answer that names an address comes before the flows to it). `now_ns` is the source's
    // clock: the wall clock live, capture time in files.
    virtual void deliver(std::span<const DnsEvent> dns, std::span<const FlowRecord> flows, std::uint64_t now_ns) = 0;
    // Live sources call this between reads: batches that waited long enough leave.
    virtual void tick(std::uint64_t now_ns) { (void)now_ns; }
    // True while partly filled batches wait: a live source should not sleep long.
    virtual bool holding() const { return false; }
    // False when no stage reads DNS events: a source may skip extracting them.
    virtual bool wants_dns() const { return true; }
};

class Source {
public:
    virtual ~Source() = default;
    // "recv", "capture" or "file": names the pipeline's threads (fg-recv-0) and metric labels.
    virtual std::string_view kind() const = 0;
    // Reads until the input ends or `stop` is set (seen within ~100 ms), delivering each unit to `sink`; at
    // the end it hands over what it still holds (open flows of a meter, data pending a template) and ticks
    // the sink once more with UINT64_MAX, so nothing waits in a partly filled batch.
    virtual void run(const std::atomic<bool>& stop, RecordSink& sink) = 0;
};

using Alerts = std::vector<Alert>;

// One step of a shard (or of the runner). A stage of a shard is only ever called from that shard's thread;
// it sees the records of the internal hosts routed there, so per-host state needs no lock.
class Stage {
public:
    virtual ~Stage() = default;
    // `now_ns`: the input's clock, as RecordSink::deliver had it (capture time in files, wall clock live).
    virtual void on_dns(std::span<const DnsEvent> events, std::uint64_t now_ns, Alerts& alerts) {
        (void)events;
        (void)now_ns;
        (void)alerts;
    }
    virtual void on_flows(std::span<const FlowRecord> records, std::uint64_t now_ns, Alerts& alerts) {
        (void)records;
        (void)now_ns;
        (void)alerts;
    }
    // After a round of batches (a shard's drain, a runner's batch), with the clock of the input: lets buffered
    // output out, rolls time windows.
    virtual void flush(std::uint64_t now_ns) { (void)now_ns; }
    // Live shards call this after every round of batches, with the wall clock: findings that wait for time to
    // pass (an alert budget's hold) leave even while no record arrives. Offline the records' time is the clock.
    virtual void poll(std::uint64_t now_ns, Alerts& alerts) {
        (void)now_ns;
        (void)alerts;
    }
    // End of input: decide what was pending (series not scored yet). flush() follows.
    virtual void finish(Alerts& alerts) { (void)alerts; }
    // Copies the counters for readers on other threads (the metrics endpoint); about once a second, and last
    // after finish().
    virtual void publish() {}
    // DNS events are routed to shards only when a stage reads them.
    virtual bool wants_dns() const { return false; }
};

// A stage that needs the whole network's view (the host graph of lateral movement: an edge's two ends are
// routed to different shards). Live, it runs on a thread of its own (fg-global-N), fed by a forwarder on every
// shard with the records its selection picks; offline, the runner applies the same selection in its thread,
// so `analyze` and the daemon see the same records. Its alerts leave through the same alert sinks.
class GlobalStage : public Stage {
public:
    virtual const ForwardSelection& selection() const = 0;
};

// A named destination of alerts (the alert log, webhooks, later syslog or Kafka). Shards publish their
// alerts concurrently: implementations serialise per call (alerts are rare).
class AlertSink {
public:
    virtual ~AlertSink() = default;
    virtual std::string_view name() const = 0;
    virtual void publish(std::span<const Alert> alerts) = 0;
    // The input's clock (wall clock live, capture time offline), after every round: lets a sink act on time
    // passing (the finding ledger resolves quiet findings). Called from any shard thread; cheap when idle.
    virtual void tick(std::uint64_t now_ns) { (void)now_ns; }
};

}  // namespace flowguard
