#include <flowguard/core/ordered_batch.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace flowguard;

namespace {

// What deliver() received: "D<n>F<m>" per call.
class Deliveries final : public RecordSink {
public:
    void deliver(std::span<const DnsEvent> dns, std::span<const FlowRecord> flows, std::uint64_t now_ns) override {
        calls.push_back("D" + std::to_string(dns.size()) + "F" + std::to_string(flows.size()));
        flows_seen += flows.size();
        last_now = now_ns;
    }
    std::vector<std::string> calls;
    std::size_t flows_seen = 0;
    std::uint64_t last_now = 0;
};

}  // namespace

TEST_CASE("ordered batch: DNS events then flows per batch; a DNS event after flows closes the batch") {
    Deliveries sink;
    OrderedBatch batch(sink);
    DnsEvent answer;
    FlowRecord flow;
    batch.add(answer, 1);
    batch.add(answer, 2);
    for (int i = 0; i < 3; ++i) batch.add(flow, 3);
    batch.add(flow, 4);
    batch.add(answer, 5);  // record by record, the four flows come before this answer
    batch.add(flow, 6);
    CHECK(sink.calls == std::vector<std::string>{"D2F4"});
    batch.hand_over();
    CHECK(sink.calls == std::vector<std::string>{"D2F4", "D1F1"});
    CHECK(sink.last_now == 6);
    batch.hand_over();  // nothing left: no empty delivery
    CHECK(sink.calls.size() == 2);
}

TEST_CASE("ordered batch: long runs of flows leave in batches of a ring's size, none lost") {
    Deliveries sink;
    OrderedBatch batch(sink);
    const std::vector<FlowRecord> seven(7);
    for (int i = 0; i < 100; ++i) batch.add({}, seven, static_cast<std::uint64_t>(i));
    batch.hand_over();
    CHECK(sink.flows_seen == 700);
    CHECK(sink.calls == std::vector<std::string>{"D0F259", "D0F259", "D0F182"});
}
