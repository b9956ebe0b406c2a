#pragma once
// Gathers what an offline source reads one unit at a time (a packet's DNS event and expired flows, a line of a
// flow log) into batches for RecordSink::deliver, so that the stages are called per batch and not per record,
// in the order a record-by-record pass would have: a batch is a run of DNS events followed by a run of flow
// records, and a DNS event that comes after flows closes the batch first (those flows must not see its
// answer). Capacity is reused: nothing is allocated once the buffers have grown.
#include <flowguard/core/dns_event.hpp>
#include <flowguard/core/flow_record.hpp>
#include <flowguard/core/stage.hpp>

#include <cstdint>
#include <span>
#include <vector>

namespace flowguard {

class OrderedBatch {
public:
    static constexpr std::size_t kFlows = 256;  // as a ring's batch
    static constexpr std::size_t kDns = 32;

    explicit OrderedBatch(RecordSink& sink) : sink_(sink) {
        flows_.reserve(kFlows * 2);
        dns_.reserve(kDns);
    }

    void add(std::span<const DnsEvent> dns, std::span<const FlowRecord> flows, std::uint64_t now_ns) {
        if (!dns.empty() && !flows_.empty()) hand_over();  // these answers come after the flows waiting
        dns_.insert(dns_.end(), dns.begin(), dns.end());
        flows_.insert(flows_.end(), flows.begin(), flows.end());
        now_ns_ = now_ns;
        if (flows_.size() >= kFlows || dns_.size() >= kDns) hand_over();
    }
    void add(const FlowRecord& flow, std::uint64_t now_ns) { add({}, std::span<const FlowRecord>(&flow, 1), now_ns); }
    void add(const DnsEvent& event, std::uint64_t now_ns) { add(std::span<const DnsEvent>(&event, 1), {}, now_ns); }

    // For producers that decode or meter straight into the batch, so records are not copied twice: take
    // mark(), append the unit's flow records to flows(), then commit() its DNS events. A unit with DNS events
    // after earlier flows closes the batch before them, as add() does.
    std::size_t mark() const noexcept { return flows_.size(); }
    std::vector<FlowRecord>& flows() noexcept { return flows_; }
    void commit(std::span<const DnsEvent> dns, std::size_t mark, std::uint64_t now_ns) {
        if (!dns.empty() && mark > 0) {
            sink_.deliver(dns_, std::span<const FlowRecord>(flows_.data(), mark), now_ns_);
            dns_.clear();
            flows_.erase(flows_.begin(), flows_.begin() + static_cast<std::ptrdiff_t>(mark));
        }
        dns_.insert(dns_.end(), dns.begin(), dns.end());
        now_ns_ = now_ns;
        if (flows_.size() >= kFlows || dns_.size() >= kDns) hand_over();
    }

    // Delivers what is gathered (at the end of the input, or before a pause).
    void hand_over() {
        if (dns_.empty() && flows_.empty()) return;
        sink_.deliver(dns_, flows_, now_ns_);
        dns_.clear();
        flows_.clear();
    }

private:
    RecordSink& sink_;
    std::vector<DnsEvent> dns_;
    std::vector<FlowRecord> flows_;
    std::uint64_t now_ns_ = 0;
};

}  // namespace flowguard
