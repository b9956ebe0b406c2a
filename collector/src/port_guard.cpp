#include <flowguard/collector/port_guard.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <arpa/inet.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

namespace flowguard::collector {
namespace {

bool parse_hex(std::string_view text, std::uint32_t& out) {
    return !text.empty() && std::from_chars(text.data(), text.data() + text.size(), out, 16).ec == std::errc{} &&
           text.size() <= 8;
}

// "0100007F:0807": the address as the kernel's %08X of each 32-bit word in host order, the port as a number.
bool parse_local(std::string_view field, bool v6, UdpSocketEntry& e) {
    const auto colon = field.find(':');
    const std::size_t words = v6 ? 4 : 1;
    if (colon != words * 8) return false;
    for (std::size_t w = 0; w < words; ++w) {
        std::uint32_t word = 0;
        if (!parse_hex(field.substr(w * 8, 8), word)) return false;
        std::memcpy(e.address.data() + w * 4, &word, 4);  // host order in memory is the wire order
    }
    std::uint32_t port = 0;
    if (!parse_hex(field.substr(colon + 1), port) || port > 0xffff) return false;
    e.port = static_cast<std::uint16_t>(port);
    return true;
}

std::array<std::uint8_t, 16> listener_address(const ListenEndpoint& l, bool& v6) {
    std::array<std::uint8_t, 16> bytes{};
    v6 = l.address.find(':') != std::string::npos;
    inet_pton(v6 ? AF_INET6 : AF_INET, l.address.c_str(), bytes.data());
    return bytes;
}

bool is_wildcard(const std::array<std::uint8_t, 16>& a, bool v6) {
    for (std::size_t i = 0; i < (v6 ? 16u : 4u); ++i)
        if (a[i] != 0) return false;
    return true;
}

std::string describe(const UdpSocketEntry& s) {
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(s.v6 ? AF_INET6 : AF_INET, s.address.data(), text, sizeof text);
    return fmt::format("{}{}{}:{} (socket inode {}, uid {})", s.v6 ? "[" : "", text, s.v6 ? "]" : "", s.port, s.inode,
                       s.uid);
}

}  // namespace

std::vector<UdpSocketEntry> parse_udp_table(std::string_view text, bool v6) {
    std::vector<UdpSocketEntry> out;
    std::istringstream in{std::string(text)};
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
        if (!(fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode))
            continue;
        UdpSocketEntry e;
        e.v6 = v6;
        if (!parse_local(local, v6, e)) continue;
        if (std::from_chars(uid.data(), uid.data() + uid.size(), e.uid).ec != std::errc{}) continue;
        if (std::from_chars(inode.data(), inode.data() + inode.size(), e.inode).ec != std::errc{}) continue;
        out.push_back(e);
    }
    return out;
}

std::vector<UdpSocketEntry> read_udp_sockets(const std::string& proc_net) {
    std::vector<UdpSocketEntry> out;
    for (const bool v6 : {false, true}) {
        std::ifstream in(proc_net + (v6 ? "/udp6" : "/udp"));
        if (!in) continue;  // no IPv6 in this kernel
        std::stringstream text;
        text << in.rdbuf();
        auto part = parse_udp_table(text.str(), v6);
        out.insert(out.end(), part.begin(), part.end());
    }
    return out;
}

bool shares_port(const ListenEndpoint& listener, const UdpSocketEntry& socket) {
    bool v6 = false;
    const auto address = listener_address(listener, v6);
    if (socket.port != listener.port || socket.v6 != v6) return false;
    return is_wildcard(address, v6) || is_wildcard(socket.address, v6) || address == socket.address;
}

void refuse_if_port_held(const ListenEndpoint& listener, const std::vector<UdpSocketEntry>& sockets) {
    if (listener.port == 0) return;  // the kernel picks a free port
    for (const auto& s : sockets) {
        if (!shares_port(listener, s)) continue;
        throw std::system_error(
            EADDRINUSE, std::generic_category(),
            fmt::format("{}: the port is held by another socket, {}: another flowguard or collector runs (with "
                        "SO_REUSEPORT we would join its group and the kernel would split the exporters between us)",
                        listener.to_string(), describe(s)));
    }
}

PortGuard::PortGuard(std::vector<ListenEndpoint> listeners, std::set<std::uint64_t> own)
    : listeners_(std::move(listeners)), own_(std::move(own)) {}

std::size_t PortGuard::check(const std::vector<UdpSocketEntry>& sockets) {
    std::set<std::uint64_t> now;
    for (const auto& s : sockets) {
        if (own_.contains(s.inode)) continue;
        for (const auto& l : listeners_) {
            if (!shares_port(l, s)) continue;
            now.insert(s.inode);
            if (!foreign_.contains(s.inode))
                spdlog::error(
                    "{}: a foreign socket joined the port, {}: the kernel now gives it part of the "
                    "exporters' datagrams, which flowguard never sees; stop that program",
                    l.to_string(), describe(s));
            break;
        }
    }
    for (const auto inode : foreign_)
        if (!now.contains(inode)) spdlog::warn("the foreign socket (inode {}) left our listening port", inode);
    foreign_ = std::move(now);
    return foreign_.size();
}

}  // namespace flowguard::collector
