#pragma once
// The single-threaded pipeline of `decode`, `meter` (files) and `analyze`: sources read one after another into
// the same stages, in this thread, at full speed. Each delivery is one batch for the stages (offline sources
// gather their units with OrderedBatch, so no stage is called per record); its DNS events reach the stages
// before its flows, and the alerts it raised go to the alert sinks before the next one.
#include <flowguard/core/counters.hpp>
#include <flowguard/core/stage.hpp>

#include <boost/json/object.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace flowguard::pipeline {

struct RunnerCounters {
    std::uint64_t records_delivered = 0;  // flow records the stages received: all of them (no rings)
    std::uint64_t ring_drops = 0;         // always 0 offline; in the summary so it reads like `collect`'s
};

inline constexpr CounterTable<RunnerCounters, 2> kRunnerCounters{{
    {"records_delivered", counter_ref<&RunnerCounters::records_delivered>},
    {"ring_drops", counter_ref<&RunnerCounters::ring_drops>},
}};

class Runner final : public RecordSink {
public:
    Runner(std::vector<std::unique_ptr<Stage>> stages, std::vector<AlertSink*> alert_sinks);

    // Reads the whole source into the stages (sources run one after another keep the stages' state), or until
    // `stop` is set (a signal).
    void run(Source& source);
    void run(Source& source, const std::atomic<bool>& stop) { source.run(stop, *this); }
    // End of input: every stage's finish() and flush(), and a last publish().
    void finish();

    void deliver(std::span<const DnsEvent> dns, std::span<const FlowRecord> flows, std::uint64_t now_ns) override;
    bool wants_dns() const override { return wants_dns_; }

    const std::vector<std::unique_ptr<Stage>>& stages() const noexcept { return stages_; }
    // records_delivered and ring_drops, as the live pipeline's summary has them.
    void summarize(boost::json::object& summary) const { add_to_summary(summary, counters_, kRunnerCounters); }

private:
    void send_alerts();

    std::vector<std::unique_ptr<Stage>> stages_;
    std::vector<AlertSink*> alert_sinks_;
    bool wants_dns_ = false;
    std::uint64_t now_ns_ = 0;
    Alerts alerts_;
    RunnerCounters counters_;
};

}  // namespace flowguard::pipeline
