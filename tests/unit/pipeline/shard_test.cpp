#include "pipeline_doubles.hpp"

#include <flowguard/pipeline/shard.hpp>

#include <doctest/doctest.h>

#include <thread>

using namespace flowguard;
using namespace flowguard::testing;

namespace {

void send_flows(BatchChannel& channel, std::size_t n, std::uint16_t port = 443) {
    FlowBatch* batch = channel.acquire();
    REQUIRE(batch != nullptr);
    for (std::size_t i = 0; i < n; ++i) batch->records[batch->count++] = flow_from("10.0.0.1", "198.51.100.1", port);
    channel.publish(batch);
}

void send_dns(DnsChannel& channel, std::size_t n) {
    DnsBatch* batch = channel.acquire();
    REQUIRE(batch != nullptr);
    for (std::size_t i = 0; i < n; ++i) batch->records[batch->count++] = dns_for("10.0.0.1", "a.example");
    channel.publish(batch);
}

}  // namespace

TEST_CASE("shard: a drain gives the stages every DNS batch before the flow batches, then finishes once") {
    BatchChannel flows(8);
    DnsChannel dns(8);
    auto stage = std::make_unique<RecordingStage>(true, "4444");
    auto* seen = stage.get();
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(std::move(stage));
    CollectingAlertSink alerts;
    pipeline::Shard shard({&flows}, {&dns}, std::move(stages), {&alerts});
    send_flows(flows, 10);
    send_dns(dns, 2);  // published after the flows, drained before them
    send_flows(flows, 5, 4444);
    std::atomic<bool> done{true};  // producers already finished: one drain, then finish
    shard.run(done);
    CHECK(seen->calls == std::vector<std::string>{"D2", "F10", "F5", "finish"});
    CHECK(shard.records() == 15);
    CHECK(shard.dns_events() == 2);
    CHECK(alerts.received.size() == 5);
    const auto snap = shard.published();  // the final state is published whatever the time
    CHECK(snap.counters.records == 15);
    CHECK(snap.alerts.at({"test", "high"}) == 5);
    CHECK(seen->publishes == 1);
}

TEST_CASE("shard: runs until the producers are done and every ring is empty, woken by the doorbell") {
    BatchChannel flows(64);
    auto stage = std::make_unique<RecordingStage>(false);
    auto* seen = stage.get();
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(std::move(stage));
    pipeline::Shard shard({&flows}, {}, std::move(stages), {});
    std::atomic<bool> done{false};
    std::thread consumer([&] { shard.run(done); });
    for (int i = 0; i < 40; ++i) {
        while (flows.queued() > 32) std::this_thread::yield();
        send_flows(flows, 100);
    }
    done.store(true);
    shard.wake();
    consumer.join();
    CHECK(seen->flows.size() == 4000);
    CHECK(shard.records() == 4000);
    CHECK(seen->calls.back() == "finish");
}
