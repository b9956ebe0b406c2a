#pragma once
// Private: sFlow v5 datagrams (sflow.org, "sFlow Version 5", 2004). Every structure is XDR: big-endian
// 32-bit words, opaque data padded to 4 bytes. Flow samples become one FlowRecord each (packets = 1, bytes =
// the sampled frame's length, as sfcapd and goflow2 report them); their raw packet headers go through the
// meter's packet parser. Generic interface counter samples update an InterfaceCounterTable.
#include <flowguard/collector/flow_decoder.hpp>
#include <flowguard/collector/interface_counters.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace flowguard::collector {

struct SflowDatagram {
    IpAddress agent;
    std::uint32_t sub_agent = 0;
    std::uint32_t sequence = 0;
    std::uint32_t uptime_ms = 0;
    std::uint32_t sample_count = 0;
    std::span<const std::uint8_t> samples;  // everything after the header
};

// True when the payload starts like an sFlow v5 datagram (version word 5, known agent address type) and
// `out` holds its header. A NetFlow v5 packet starts with the 16-bit 5, so the two never match each other.
bool parse_sflow_header(std::span<const std::uint8_t> payload, SflowDatagram& out) noexcept;

struct SflowSampleCounts {
    std::uint32_t flow_samples = 0;        // flow samples turned into records
    std::uint32_t counter_samples = 0;     // counter samples read (generic interface counters kept)
    std::uint32_t samples_without_ip = 0;  // flow samples of non-IP traffic (ARP, LLDP, ...)
    std::uint32_t skipped = 0;             // samples or records of formats flowguard does not read
    std::uint32_t errors = 0;              // lengths that run past their container, short structures
};

// Decodes the samples of one datagram. `base` carries what every record shares (receive time, agent,
// sequence); `rate_override` (non-zero) replaces the sampling rates the agent announces.
SflowSampleCounts decode_sflow_samples(const SflowDatagram& datagram, const FlowRecord& base,
                                       std::uint64_t rate_override, InterfaceCounterTable& counters,
                                       const SampledPacketHandler& on_packet, std::vector<FlowRecord>& out);

}  // namespace flowguard::collector
