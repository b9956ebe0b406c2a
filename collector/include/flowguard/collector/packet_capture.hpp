#pragma once
// Raw packets from libpcap: a pcap/pcapng file (capture time is the clock) or a live interface (TPACKET_V3
// ring as libpcap sets it up, optional PACKET_FANOUT group so several capture threads share one interface).
// Live capture needs CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode on some drivers), not root.
#include <flowguard/core/counters.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace flowguard::collector {

struct LiveCaptureOptions {
    std::string interface;
    std::string bpf_filter;
    std::size_t snaplen = 262144;
    bool promiscuous = true;
    std::size_t buffer_size = 64u << 20;
    int fanout_group = -1;      // >= 0: join this PACKET_FANOUT group (hash mode)
    int read_timeout_ms = 100;  // how long a read may wait, so stop requests are seen
};

struct CaptureDrops {
    std::uint64_t received = 0;           // pcap_stats ps_recv
    std::uint64_t dropped = 0;            // ps_drop: the capture buffer was full
    std::uint64_t interface_dropped = 0;  // ps_ifdrop

    CaptureDrops& operator+=(const CaptureDrops& o) noexcept;
};

inline constexpr CounterTable<CaptureDrops, 3> kCaptureDrops{{
    {"capture_received", counter_ref<&CaptureDrops::received>},
    {"capture_dropped", counter_ref<&CaptureDrops::dropped>},
    {"capture_interface_dropped", counter_ref<&CaptureDrops::interface_dropped>},
}};
static_assert(sizeof(CaptureDrops) == sizeof(std::uint64_t) * kCaptureDrops.size());

inline CaptureDrops& CaptureDrops::operator+=(const CaptureDrops& o) noexcept {
    merge_counters(*this, o, kCaptureDrops);
    return *this;
}

struct RawPacket {
    const std::uint8_t* data = nullptr;
    std::size_t captured = 0;
    std::size_t original = 0;
    std::uint64_t time_ns = 0;
};

class PacketCapture {
public:
    static PacketCapture open_file(const std::string& path, const std::string& bpf_filter = {});  // throws
    static PacketCapture open_live(const LiveCaptureOptions& options);                            // throws
    ~PacketCapture();
    PacketCapture(PacketCapture&&) noexcept;
    PacketCapture& operator=(PacketCapture&&) noexcept;

    // error: a damaged or truncated file ("truncated dump file"), an interface gone: error() says what.
    enum class Read { packet, timeout, end, error };
    // Next packet; its bytes stay valid until the next call.
    Read next(RawPacket& packet);
    std::string error() const;  // libpcap's reason for the last Read::error
    int link_type() const noexcept { return link_type_; }
    CaptureDrops drops() const;  // live captures only; zero for files
    void break_loop();           // safe from another thread or a signal handler

private:
    struct Handle;
    explicit PacketCapture(std::unique_ptr<Handle> handle);
    std::unique_ptr<Handle> handle_;
    int link_type_ = 0;
};

}  // namespace flowguard::collector
