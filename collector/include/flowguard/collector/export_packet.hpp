#pragma once
#include <flowguard/core/ip_address.hpp>

#include <cstddef>
#include <cstdint>
#include <span>

namespace flowguard::collector {

// One UDP datagram from an exporter, as received (socket) or as captured (pcap).
struct ExportPacket {
    std::span<const std::uint8_t> payload;
    IpAddress exporter;
    std::uint16_t exporter_port = 0;
    std::uint64_t received_ns = 0;  // receive time (socket) or capture time (pcap)
};

}  // namespace flowguard::collector
