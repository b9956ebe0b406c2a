#include "pipeline_doubles.hpp"

#include <flowguard/pipeline/runner.hpp>

#include <doctest/doctest.h>

using namespace flowguard;
using namespace flowguard::testing;

namespace {

std::vector<FlowRecord> flows(std::size_t n, std::uint16_t port = 443) {
    return std::vector<FlowRecord>(n, flow_from("10.0.0.1", "198.51.100.1", port));
}

}  // namespace

TEST_CASE("runner: each delivery reaches every stage as one batch, DNS first; finish and flush come last") {
    auto stage = std::make_unique<RecordingStage>();
    auto* seen = stage.get();
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(std::move(stage));
    pipeline::Runner runner(std::move(stages), {});
    ScriptedSource source({Unit{{dns_for("10.0.0.1", "a.example"), dns_for("10.0.0.1", "b.example")}, flows(3), 10},
                           Unit{{}, flows(2), 20}, Unit{{dns_for("10.0.0.1", "c.example")}, flows(1), 30}});
    runner.run(source);
    runner.finish();
    CHECK(seen->calls == std::vector<std::string>{"D2", "F3", "F2", "D1", "F1", "finish"});
    CHECK(seen->last_now == 30);
    CHECK(seen->flushes == 1);  // at the end only: buffered output leaves when it fills or at the end
    CHECK(seen->publishes == 1);
    CHECK(source.wanted_dns);
}

TEST_CASE("runner: DNS events are dropped before the stages when no stage reads them") {
    auto stage = std::make_unique<RecordingStage>(false);
    auto* seen = stage.get();
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(std::move(stage));
    pipeline::Runner runner(std::move(stages), {});
    ScriptedSource source({Unit{{dns_for("10.0.0.1", "a.example")}, flows(1), 1}});
    runner.run(source);
    runner.finish();
    CHECK(seen->dns.empty());
    CHECK_FALSE(source.wanted_dns);
    CHECK(seen->flows.size() == 1);
}

TEST_CASE("runner: alerts leave after each delivery, to every alert sink; stage state spans sources") {
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(std::make_unique<RecordingStage>(true, "4444"));
    auto* seen = static_cast<RecordingStage*>(stages.back().get());
    CollectingAlertSink first, second;
    pipeline::Runner runner(std::move(stages), {&first, &second});
    ScriptedSource one({Unit{{}, flows(2, 4444), 1}});
    ScriptedSource two({Unit{{dns_for("10.0.0.1", "x.example")}, flows(1, 4444), 2}, Unit{{}, flows(5), 3}});
    runner.run(one);
    runner.run(two);
    runner.finish();
    CHECK(first.received.size() == 3);
    CHECK(second.received.size() == 3);
    CHECK(first.calls == 2);  // one per delivery that raised any
    CHECK(seen->flows.size() == 8);
}
