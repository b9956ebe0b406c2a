#pragma once
// Who else holds our UDP ports. The receive threads bind their listeners with SO_REUSEPORT, and Linux lets any
// later socket of the same user join that group: the kernel then hands part of the exporters to it, and
// nobody would be told. Before binding, a port already held by another socket is refused (we would join its
// group); while running, the sockets the kernel lists for our ports (/proc/net/udp, udp6) are compared with
// ours every few seconds, and a foreign one is logged as an error and shown in a metric.
#include <flowguard/core/config.hpp>

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace flowguard::collector {

// One line of /proc/net/udp or /proc/net/udp6.
struct UdpSocketEntry {
    bool v6 = false;
    std::array<std::uint8_t, 16> address{};  // network byte order; IPv4 in the first 4 bytes
    std::uint16_t port = 0;
    std::uint32_t uid = 0;
    std::uint64_t inode = 0;
};

// Parses the kernel's table text (the header line is skipped; malformed lines are ignored).
std::vector<UdpSocketEntry> parse_udp_table(std::string_view text, bool v6);
// Both tables of this network namespace, from `proc_net` (normally /proc/net).
std::vector<UdpSocketEntry> read_udp_sockets(const std::string& proc_net = "/proc/self/net");

// True when a datagram for `listener` could be delivered to `socket` instead: same port and family, and the
// same address or either one the wildcard.
bool shares_port(const ListenEndpoint& listener, const UdpSocketEntry& socket);

// Throws std::system_error(EADDRINUSE) naming the listener and the holder when another socket already holds
// its port: binding with SO_REUSEPORT would silently join that socket's group and split the exporters.
void refuse_if_port_held(const ListenEndpoint& listener, const std::vector<UdpSocketEntry>& sockets);

class PortGuard {
public:
    // `listeners` with their bound ports (port 0 resolved), `own`: the inodes of every socket we bound.
    PortGuard(std::vector<ListenEndpoint> listeners, std::set<std::uint64_t> own);

    // Compares the kernel's sockets with ours; logs each foreign socket once, when first seen (as an error:
    // it takes a share of the exporters), and when it is gone. Returns how many there are now.
    std::size_t check(const std::vector<UdpSocketEntry>& sockets);
    std::size_t foreign() const noexcept { return foreign_.size(); }
    const std::vector<ListenEndpoint>& listeners() const noexcept { return listeners_; }

private:
    std::vector<ListenEndpoint> listeners_;
    std::set<std::uint64_t> own_;
    std::set<std::uint64_t> foreign_;
};

}  // namespace flowguard::collector
