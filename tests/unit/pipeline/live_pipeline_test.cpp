#include "pipeline_doubles.hpp"

#include <flowguard/pipeline/live_pipeline.hpp>
#include <flowguard/pipeline/shard_router.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>

using namespace flowguard;
using namespace flowguard::testing;

TEST_CASE("live pipeline: every record of every producer reaches its host's shard once; stop drains all") {
    constexpr std::size_t kShards = 3;
    constexpr std::size_t kProducers = 2;
    std::vector<std::unique_ptr<Source>> sources;
    std::vector<ScriptedSource*> scripted;
    std::size_t sent = 0;
    for (std::size_t p = 0; p < kProducers; ++p) {
        std::vector<Unit> units;
        for (std::uint32_t i = 0; i < 500; ++i) {
            Unit unit;
            FlowRecord r;
            r.src_addr = IpAddress::from_v4(0x0a000000u + i * 3 + static_cast<std::uint32_t>(p));
            r.dst_addr = *IpAddress::parse("198.51.100.1");
            r.dst_port = i % 7 == 0 ? 4444 : 443;
            unit.flows.assign(5, r);
            unit.dns.push_back(dns_for("10.0.0.9", "a.example"));
            unit.now_ns = 1'000'000'000ull + i;
            sent += 5;
            units.push_back(std::move(unit));
        }
        sources.push_back(std::make_unique<ScriptedSource>(std::move(units), p == 0 ? "recv" : "capture"));
        scripted.push_back(static_cast<ScriptedSource*>(sources.back().get()));
    }
    std::vector<RecordingStage*> stages;
    CollectingAlertSink alerts;
    pipeline::LiveOptions options;
    options.shards = kShards;
    options.batches_per_channel = 256;  // room for everything: this test is about routing, not drops
    pipeline::LivePipeline live(options, std::move(sources),
                                [&](std::size_t) {
                                    std::vector<std::unique_ptr<Stage>> v;
                                    v.push_back(std::make_unique<RecordingStage>(true, "4444"));
                                    stages.push_back(static_cast<RecordingStage*>(v.back().get()));
                                    return v;
                                },
                                {&alerts});
    live.start();
    for (auto* source : scripted)
        while (!source->finished.load()) std::this_thread::yield();
    live.stop_and_drain();

    const pipeline::ShardRouter router(NetworkSet::private_networks(), kShards);
    std::size_t received = 0, dns = 0;
    for (std::size_t s = 0; s < kShards; ++s) {
        for (const auto& r : stages[s]->flows) CHECK(router.shard_of(r) == s);
        received += stages[s]->flows.size();
        dns += stages[s]->dns.size();
        CHECK(stages[s]->calls.back() == "finish");
    }
    CHECK(received == sent);
    CHECK(dns == 1000);
    CHECK(live.producer_label(0) == "0");
    CHECK(live.producer_label(1) == "capture0");

    boost::json::object summary;
    live.summarize(summary);
    CHECK(summary.at("records_delivered").as_uint64() == sent);
    CHECK(summary.at("ring_drops").as_uint64() == 0);
    CHECK(summary.at("dns_events").as_uint64() == 1000);

    RecordedMetrics metrics;
    live.write_metrics(metrics);
    CHECK(metrics.values.at("flowguard_ring_drops_total|capture0") == 0);
    CHECK(metrics.values.at("flowguard_alerts_total|test|high") == static_cast<double>(alerts.received.size()));
    CHECK(alerts.received.size() == 2 * 5 * 72);  // i % 7 == 0 for 72 of 500 units, 5 records each, 2 producers
}

TEST_CASE("live pipeline: DNS channels exist only when a stage reads DNS") {
    std::vector<std::unique_ptr<Source>> sources;
    sources.push_back(std::make_unique<ScriptedSource>(std::vector<Unit>{Unit{{dns_for("10.0.0.1", "a.b")}, {}, 1}}));
    auto* source = static_cast<ScriptedSource*>(sources.back().get());
    pipeline::LivePipeline live({}, std::move(sources),
                                [](std::size_t) {
                                    std::vector<std::unique_ptr<Stage>> v;
                                    v.push_back(std::make_unique<RecordingStage>(false));
                                    return v;
                                },
                                {});
    live.start();
    live.stop_and_drain();
    CHECK_FALSE(source->wanted_dns);
}

namespace {

// A live source with nothing to read: it waits for the stop, as a receive thread does.
class IdleSource final : public Source {
public:
    explicit IdleSource(std::string kind) : kind_(std::move(kind)) {}
    std::string_view kind() const override { return kind_; }
    void run(const std::atomic<bool>& stop, RecordSink& sink) override {
        while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        sink.tick(UINT64_MAX);
    }

private:
    std::string kind_;
};

std::set<std::string> thread_names() {
    std::set<std::string> names;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream comm(task.path() / "comm");
        std::string name;
        std::getline(comm, name);
        names.insert(name);
    }
    return names;
}

}  // namespace

TEST_CASE("live pipeline: threads are named for top -H, and stopping joins them all") {
    std::vector<std::unique_ptr<Source>> sources;
    sources.push_back(std::make_unique<IdleSource>("recv"));
    sources.push_back(std::make_unique<IdleSource>("recv"));
    sources.push_back(std::make_unique<IdleSource>("capture"));
    pipeline::LiveOptions options;
    options.shards = 2;
    pipeline::LivePipeline live(options, std::move(sources),
                                [](std::size_t) { return std::vector<std::unique_ptr<Stage>>{}; }, {});
    live.start();
    const std::set<std::string> wanted{"fg-capture-0", "fg-recv-0", "fg-recv-1", "fg-shard-0", "fg-shard-1"};
    std::set<std::string> named;
    for (int tries = 0; tries < 200 && named != wanted; ++tries) {  // each thread names itself as it starts
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        named.clear();
        for (const auto& name : thread_names())
            if (wanted.count(name)) named.insert(name);
    }
    CHECK(named == wanted);
    live.stop_and_drain();
    CHECK(thread_names().count("fg-shard-0") == 0);
    CHECK(live.producer_label(2) == "capture0");
}
