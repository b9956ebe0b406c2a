// Global stages: a forwarder on every shard hands the selected records to the global thread; offline the
// runner applies the same selection.
#include "pipeline_doubles.hpp"

#include <flowguard/pipeline/forwarder.hpp>
#include <flowguard/pipeline/live_pipeline.hpp>
#include <flowguard/pipeline/runner.hpp>

#include <doctest/doctest.h>

#include <pthread.h>

#include <mutex>
#include <set>
#include <thread>

using namespace flowguard;
using namespace flowguard::testing;

namespace {

// Wants internal SMB; records what it got and on which thread; alerts on every record from 10.0.9.9.
class RecordingGlobalStage final : public GlobalStage {
public:
    RecordingGlobalStage() {
        selection_.internal = NetworkSet::private_networks();
        selection_.ports.set(445);
    }
    const ForwardSelection& selection() const override { return selection_; }
    void on_flows(std::span<const FlowRecord> records, std::uint64_t, Alerts& alerts) override {
        char name[16] = {};
        pthread_getname_np(pthread_self(), name, sizeof name);
        std::lock_guard lock(mutex);
        threads.insert(name);
        for (const auto& r : records) {
            flows.push_back(r);
            if (r.src_addr.to_string() == "10.0.9.9") {
                Alert a;
                a.kind = "global";
                a.severity = Severity::high;
                a.src_addr = r.src_addr;
                alerts.push_back(a);
            }
        }
    }
    void finish(Alerts&) override { finished = true; }

    std::mutex mutex;
    std::vector<FlowRecord> flows;
    std::set<std::string> threads;
    bool finished = false;

private:
    ForwardSelection selection_;
};

}  // namespace

TEST_CASE("forwarder: selected records leave in batches at flush; a full channel drops and counts") {
    RecordingGlobalStage global;
    BatchChannel channel(2);
    pipeline::Forwarder forwarder(global.selection(), channel);
    std::vector<FlowRecord> records;
    for (int i = 0; i < 600; ++i)
        records.push_back(flow_from("10.0.0.1", i % 2 ? "10.0.0.2" : "198.51.100.1", i % 3 ? 445 : 443));
    Alerts none;
    forwarder.on_flows(records, 1, none);
    forwarder.flush(2);
    // 600 records: 200 internal SMB (i odd and not a multiple of 3 -> 200); two 256-record batches hold them.
    std::size_t received = 0;
    while (FlowBatch* b = channel.consume()) {
        for (std::uint32_t i = 0; i < b->count; ++i) {
            CHECK(b->records[i].dst_port == 445);
            CHECK(b->records[i].dst_addr.to_string() == "10.0.0.2");
        }
        received += b->count;
        // not released: the channel's two batches stay with the consumer
    }
    CHECK(received == 200);
    CHECK(forwarder.counters().forwarded == 200);
    CHECK(forwarder.counters().forward_drops == 0);
    forwarder.on_flows(records, 3, none);  // fills the channel's second batch to 200 ...
    forwarder.on_flows(records, 4, none);  // ... then 56 more, and no batch is left for 144
    CHECK(forwarder.counters().forwarded == 456);
    CHECK(forwarder.counters().forward_drops == 144);
}

TEST_CASE("live pipeline: a global stage sees every shard's selected records once, on its own thread") {
    constexpr std::size_t kShards = 3;
    std::vector<std::unique_ptr<Source>> sources;
    std::vector<ScriptedSource*> scripted;
    std::size_t selected = 0;
    for (int p = 0; p < 2; ++p) {
        std::vector<Unit> units;
        for (std::uint32_t i = 0; i < 400; ++i) {
            Unit unit;
            // Sources spread over shards; half the records internal SMB.
            const auto src = IpAddress::from_v4(0x0a000100u + i + static_cast<std::uint32_t>(p) * 1000);
            FlowRecord r = flow_from("10.0.0.1", i % 2 ? "10.0.5.5" : "198.51.100.7", 445);
            r.src_addr = src;
            r.src_port = static_cast<std::uint16_t>(40000 + i);
            unit.flows.push_back(r);
            if (i % 2) ++selected;
            if (i == 7 && p == 1) {
                unit.flows.push_back(flow_from("10.0.9.9", "10.0.5.5", 445));
                ++selected;
            }
            unit.now_ns = 1'000'000'000ull + i;
            units.push_back(std::move(unit));
        }
        sources.push_back(std::make_unique<ScriptedSource>(std::move(units), "recv"));
        scripted.push_back(static_cast<ScriptedSource*>(sources.back().get()));
    }
    auto global = std::make_unique<RecordingGlobalStage>();
    auto* seen = global.get();
    std::vector<std::unique_ptr<GlobalStage>> globals;
    globals.push_back(std::move(global));
    CollectingAlertSink alerts;
    pipeline::LiveOptions options;
    options.shards = kShards;
    options.batches_per_channel = 64;
    pipeline::LivePipeline live(
        options, std::move(sources), [](std::size_t) { return std::vector<std::unique_ptr<Stage>>{}; }, {&alerts},
        std::move(globals));
    REQUIRE(live.global_count() == 1);
    live.start();
    for (auto* source : scripted)
        while (!source->finished.load()) std::this_thread::yield();
    live.stop_and_drain();

    CHECK(seen->finished);
    CHECK(seen->flows.size() == selected);
    std::set<std::pair<std::string, std::uint16_t>> unique;
    for (const auto& r : seen->flows) unique.insert({r.src_addr.to_string(), r.src_port});
    CHECK(unique.size() == selected);
    CHECK(seen->threads == std::set<std::string>{"fg-global-0"});
    REQUIRE(alerts.received.size() == 1);
    CHECK(alerts.received[0].kind == "global");

    boost::json::object summary;
    live.summarize(summary);
    CHECK(summary.at("global_forwarded").as_uint64() == selected);
    CHECK(summary.at("global_forward_drops").as_uint64() == 0);
    RecordedMetrics metrics;
    live.write_metrics(metrics);
    double forwarded = 0;
    for (std::size_t s = 0; s < kShards; ++s)
        forwarded += metrics.values["flowguard_global_forwarded_total|" + std::to_string(s)];
    CHECK(forwarded == static_cast<double>(selected));
    CHECK(metrics.values["flowguard_shard_records_total|global0"] == static_cast<double>(selected));
    CHECK(metrics.values["flowguard_alerts_total|global|high"] == 1);
}

TEST_CASE("runner: a global stage behind SelectedStage sees only its selection, and finishes") {
    auto global = std::make_unique<RecordingGlobalStage>();
    auto* seen = global.get();
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(std::make_unique<pipeline::SelectedStage>(std::move(global)));
    auto* selected = static_cast<pipeline::SelectedStage*>(stages.back().get());
    CollectingAlertSink alerts;
    pipeline::Runner runner(std::move(stages), {&alerts});
    const std::vector<FlowRecord> flows{flow_from("10.0.0.1", "10.0.0.2", 445), flow_from("10.0.0.1", "10.0.0.2", 80),
                                        flow_from("10.0.9.9", "10.0.0.2", 445), flow_from("10.0.0.1", "8.8.8.8", 445)};
    runner.deliver({}, flows, 1);
    runner.finish();
    CHECK(seen->flows.size() == 2);
    CHECK(selected->forwarded() == 2);
    CHECK(seen->finished);
    CHECK(alerts.received.size() == 1);
}
