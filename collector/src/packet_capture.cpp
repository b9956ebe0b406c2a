#include <flowguard/collector/packet_capture.hpp>

#include <fmt/format.h>
#include <pcap/pcap.h>

#include <linux/if_packet.h>
#include <poll.h>
#include <sys/socket.h>

#include <stdexcept>

namespace flowguard::collector {

struct PacketCapture::Handle {
    pcap_t* pcap = nullptr;
    bool live = false;
    int selectable_fd = -1;  // live: non-blocking reads, waited for with poll() (bounded by read_timeout_ms)
    int read_timeout_ms = 100;
    ~Handle() {
        if (pcap) pcap_close(pcap);
    }
};

namespace {

void apply_filter(pcap_t* pcap, const std::string& filter, const std::string& source) {
    if (filter.empty()) return;
    bpf_program program{};
    if (pcap_compile(pcap, &program, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
        throw std::runtime_error(fmt::format("{}: bad BPF filter '{}': {}", source, filter, pcap_geterr(pcap)));
    }
    const int rc = pcap_setfilter(pcap, &program);
    pcap_freecode(&program);
    if (rc != 0) throw std::runtime_error(fmt::format("{}: cannot set BPF filter: {}", source, pcap_geterr(pcap)));
}

}  // namespace

PacketCapture::PacketCapture(std::unique_ptr<Handle> handle) : handle_(std::move(handle)) {
    link_type_ = pcap_datalink(handle_->pcap);
}
PacketCapture::~PacketCapture() = default;
PacketCapture::PacketCapture(PacketCapture&&) noexcept = default;
PacketCapture& PacketCapture::operator=(PacketCapture&&) noexcept = default;

PacketCapture PacketCapture::open_file(const std::string& path, const std::string& bpf_filter) {
    auto handle = std::make_unique<Handle>();
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    handle->pcap = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!handle->pcap) throw std::runtime_error(fmt::format("cannot read capture '{}': {}", path, errbuf));
    apply_filter(handle->pcap, bpf_filter, path);
    return PacketCapture(std::move(handle));
}

PacketCapture PacketCapture::open_live(const LiveCaptureOptions& options) {
    auto handle = std::make_unique<Handle>();
    handle->live = true;
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    pcap_t* pcap = pcap_create(options.interface.c_str(), errbuf);
    if (!pcap) throw std::runtime_error(fmt::format("cannot open interface '{}': {}", options.interface, errbuf));
    handle->pcap = pcap;
    pcap_set_snaplen(pcap, static_cast<int>(options.snaplen));
    pcap_set_promisc(pcap, options.promiscuous ? 1 : 0);
    pcap_set_buffer_size(pcap, static_cast<int>(options.buffer_size));
    pcap_set_timeout(pcap, options.read_timeout_ms);
    pcap_set_immediate_mode(pcap, 0);  // batch deliveries from the TPACKET_V3 ring: fewer wakeups
    pcap_set_tstamp_precision(pcap, PCAP_TSTAMP_PRECISION_NANO);
    const int rc = pcap_activate(pcap);
    if (rc < 0) {
        const std::string hint = (rc == PCAP_ERROR_PERM_DENIED)
                                     ? " (needs CAP_NET_RAW: setcap cap_net_raw,cap_net_admin+ep on the binary, or "
                                       "AmbientCapabilities=CAP_NET_RAW in the systemd unit)"
                                     : "";
        throw std::runtime_error(
            fmt::format("cannot capture on '{}': {}{}", options.interface, pcap_geterr(pcap), hint));
    }
    apply_filter(pcap, options.bpf_filter, options.interface);
    // A blocking read on a quiet (or quietly filtered) interface can wait for ever with TPACKET_V3: the
    // reader then never sees a stop request nor sweeps idle flows. Non-blocking reads plus our own poll()
    // bound every wait by the read timeout.
    if (pcap_setnonblock(pcap, 1, errbuf) != 0)
        throw std::runtime_error(fmt::format("cannot capture on '{}': {}", options.interface, errbuf));
    handle->selectable_fd = pcap_get_selectable_fd(pcap);
    handle->read_timeout_ms = options.read_timeout_ms;
    if (options.fanout_group >= 0) {
        // Hash fanout keeps both directions of a connection on one socket, so one thread sees the whole flow.
        const int value = (options.fanout_group & 0xffff) | (PACKET_FANOUT_HASH << 16);
        if (setsockopt(pcap_fileno(pcap), SOL_PACKET, PACKET_FANOUT, &value, sizeof value) != 0) {
            throw std::runtime_error(
                fmt::format("cannot join PACKET_FANOUT group {} on '{}'", options.fanout_group, options.interface));
        }
    }
    return PacketCapture(std::move(handle));
}

PacketCapture::Read PacketCapture::next(RawPacket& packet) {
    pcap_pkthdr* header = nullptr;
    const std::uint8_t* data = nullptr;
    int rc = pcap_next_ex(handle_->pcap, &header, &data);
    if (rc == 0 && handle_->selectable_fd >= 0) {
        pollfd fd{handle_->selectable_fd, POLLIN, 0};
        if (::poll(&fd, 1, handle_->read_timeout_ms) > 0) rc = pcap_next_ex(handle_->pcap, &header, &data);
    }
    if (rc == 0) return Read::timeout;
    if (rc == PCAP_ERROR) return Read::error;
    if (rc != 1) return Read::end;  // end of file or break_loop
    packet.data = data;
    packet.captured = header->caplen;
    packet.original = header->len;
    // Nanosecond precision was requested, so tv_usec holds nanoseconds.
    packet.time_ns = static_cast<std::uint64_t>(header->ts.tv_sec) * 1'000'000'000ull +
                     static_cast<std::uint64_t>(header->ts.tv_usec);
    return Read::packet;
}

CaptureDrops PacketCapture::drops() const {
    CaptureDrops drops;
    if (!handle_->live) return drops;
    pcap_stat stat{};
    if (pcap_stats(handle_->pcap, &stat) == 0) {
        drops.received = stat.ps_recv;
        drops.dropped = stat.ps_drop;
        drops.interface_dropped = stat.ps_ifdrop;
    }
    return drops;
}

std::string PacketCapture::error() const {
    return pcap_geterr(handle_->pcap);
}

void PacketCapture::break_loop() {
    pcap_breakloop(handle_->pcap);
}

}  // namespace flowguard::collector
