#pragma once
// Reads UDP datagrams out of a pcap or pcapng file (libpcap), for decoding captured flow exports.
// Link types: Ethernet (with 802.1Q/QinQ tags), Linux cooked v1/v2, BSD loopback/null, raw IPv4/IPv6.
// Fragmented IP datagrams are counted, not reassembled.
#include <flowguard/collector/export_packet.hpp>
#include <flowguard/collector/packet_capture.hpp>
#include <flowguard/core/counters.hpp>

#include <cstdint>
#include <string>

namespace flowguard::collector {

struct CaptureStats {
    std::uint64_t frames = 0;
    std::uint64_t udp_datagrams = 0;
    std::uint64_t other_frames = 0;  // not UDP over IP (ARP, TCP, ICMP, ...)
    std::uint64_t truncated = 0;     // shorter than their headers say (snaplen or damage)
    std::uint64_t fragments = 0;     // IP fragments: not reassembled

    CaptureStats& operator+=(const CaptureStats& o) noexcept;
};

// `decode`'s `capture` summary.
inline constexpr CounterTable<CaptureStats, 5> kCaptureStats{{
    {"frames", counter_ref<&CaptureStats::frames>},
    {"udp_datagrams", counter_ref<&CaptureStats::udp_datagrams>},
    {"other_frames", counter_ref<&CaptureStats::other_frames>},
    {"truncated", counter_ref<&CaptureStats::truncated>},
    {"fragments", counter_ref<&CaptureStats::fragments>},
}};
static_assert(sizeof(CaptureStats) == sizeof(std::uint64_t) * kCaptureStats.size());

inline CaptureStats& CaptureStats::operator+=(const CaptureStats& o) noexcept {
    merge_counters(*this, o, kCaptureStats);
    return *this;
}

class PcapDatagramReader {
public:
    explicit PcapDatagramReader(const std::string& path)  // throws std::runtime_error naming the file
        : capture_(PacketCapture::open_file(path)) {}

    // Next UDP datagram; its payload stays valid until the next call. False at the end of the file, or where
    // it is damaged or cut short: then error() says why ("truncated dump file; ...").
    bool next(ExportPacket& packet, std::uint16_t& destination_port);

    const CaptureStats& stats() const noexcept { return stats_; }
    const std::string& error() const noexcept { return error_; }

private:
    PacketCapture capture_;
    CaptureStats stats_;
    std::string error_;
};

}  // namespace flowguard::collector
