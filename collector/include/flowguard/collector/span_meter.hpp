#pragma once
// One capture thread's work: frames -> parsed packets -> flow table, plus DNS messages -> DNS events.
#include <flowguard/collector/flow_meter.hpp>
#include <flowguard/collector/packet_capture.hpp>
#include <flowguard/core/counters.hpp>
#include <flowguard/core/dns_event.hpp>

#include <boost/json/object.hpp>

#include <vector>

namespace flowguard::collector {

struct SpanMeterStats {
    std::uint64_t frames = 0;
    std::uint64_t not_ip = 0;     // ARP, LLDP, ... (not counted as errors)
    std::uint64_t truncated = 0;  // cut before the end of their IP header
    std::uint64_t malformed = 0;  // headers that contradict themselves
    std::uint64_t dns_messages = 0;
    std::uint64_t dns_errors = 0;  // port-53 payloads that are not whole DNS messages
    MeterStats flows;

    SpanMeterStats& operator+=(const SpanMeterStats& o) noexcept;
};

// With kMeterStats (the `flows` member) and kCaptureDrops: the `meter` summary of `meter`, `collect` and `run`.
inline constexpr CounterTable<SpanMeterStats, 6> kSpanMeterStats{{
    {"frames", counter_ref<&SpanMeterStats::frames>},
    {"not_ip", counter_ref<&SpanMeterStats::not_ip>},
    {"truncated", counter_ref<&SpanMeterStats::truncated>},
    {"malformed", counter_ref<&SpanMeterStats::malformed>},
    {"dns_messages", counter_ref<&SpanMeterStats::dns_messages>},
    {"dns_errors", counter_ref<&SpanMeterStats::dns_errors>},
}};
static_assert(sizeof(SpanMeterStats) == sizeof(std::uint64_t) * kSpanMeterStats.size() + sizeof(MeterStats));

inline SpanMeterStats& SpanMeterStats::operator+=(const SpanMeterStats& o) noexcept {
    merge_counters(*this, o, kSpanMeterStats);
    flows += o.flows;
    return *this;
}

// What a span-port meter did: frames, packets, bytes, parse problems, flows created, records (flows ended and
// reported), evictions, DNS, and the capture's own drops (pcap_stats; zero for files).
boost::json::object span_meter_summary(const SpanMeterStats& stats, const CaptureDrops& drops);

// Parses the DNS message in a UDP or TCP port-53 packet into `event`; false when there is none.
// TCP: only a segment that starts with the 2-byte length and holds the whole message is read.
enum class DnsExtract { none, ok, error };
DnsExtract extract_dns(const PacketView& packet, std::uint64_t time_ns, DnsEvent& event) noexcept;

class SpanMeter {
public:
    SpanMeter(const MeterConfig& config, IpAddress observer) : config_(config), meter_(config, observer) {}

    void process(int link_type, const RawPacket& raw, std::vector<FlowRecord>& flows, std::vector<DnsEvent>& dns);
    void expire(std::uint64_t now_ns, std::vector<FlowRecord>& flows) { meter_.expire(now_ns, flows); }
    void flush(std::vector<FlowRecord>& flows) { meter_.flush(flows); }

    SpanMeterStats stats() const {
        SpanMeterStats s = stats_;
        s.flows = meter_.stats();
        return s;
    }
    std::size_t active_flows() const noexcept { return meter_.active_flows(); }

private:
    MeterConfig config_;
    FlowMeter meter_;
    SpanMeterStats stats_;
};

}  // namespace flowguard::collector
