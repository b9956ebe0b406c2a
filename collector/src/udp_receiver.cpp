#include <flowguard/collector/span_meter.hpp>
#include <flowguard/collector/udp_receiver.hpp>
#include <flowguard/core/clock.hpp>
#include <flowguard/core/flow_batch.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <system_error>
#include <thread>

namespace flowguard::collector {
namespace {

constexpr std::size_t kControlBytes = CMSG_SPACE(sizeof(std::uint32_t));
// Bursts read from one socket before looking at the others, so one busy exporter cannot starve the rest.
constexpr int kBurstsPerWakeup = 8;
// On stop, at most this many datagrams are drained per socket: a flood cannot keep shutdown from ending.
constexpr std::size_t kDrainLimit = 1u << 20;

void set_int_option(int fd, int level, int name, int value, const std::string& what, const std::string& listener) {
    if (setsockopt(fd, level, name, &value, sizeof value) != 0)
        throw std::system_error(errno, std::generic_category(), fmt::format("{}: {}", listener, what));
}

}  // namespace

struct UdpReceiver::Socket {
    int fd = -1;
    std::string name;
    std::uint32_t kernel_drops = 0;  // SO_RXQ_OVFL's running count for this socket
    ~Socket() {
        if (fd >= 0) ::close(fd);
    }
};

// Receive slots for one recvmmsg call. Slots are max_datagram bytes (9216 by default): export datagrams
// fit in a path MTU, and 64 KiB slots would spread a burst over megabytes of cache.
struct UdpReceiver::Buffers {
    Buffers(std::size_t n, std::size_t slot)
        : slot_size(slot), data(n * slot), control(n * kControlBytes), addresses(n), iov(n), messages(n) {
        for (std::size_t i = 0; i < n; ++i) {
            iov[i].iov_base = data.data() + i * slot;
            iov[i].iov_len = slot;
        }
    }
    void reset() {
        for (std::size_t i = 0; i < messages.size(); ++i) {
            auto& h = messages[i].msg_hdr;
            h = msghdr{};
            h.msg_name = &addresses[i];
            h.msg_namelen = sizeof(sockaddr_storage);
            h.msg_iov = &iov[i];
            h.msg_iovlen = 1;
            h.msg_control = control.data() + i * kControlBytes;
            h.msg_controllen = kControlBytes;
        }
    }
    std::size_t slot_size;
    std::vector<std::uint8_t> data;
    std::vector<std::uint8_t> control;
    std::vector<sockaddr_storage> addresses;
    std::vector<iovec> iov;
    std::vector<mmsghdr> messages;
};

UdpReceiver::UdpReceiver(const CollectorConfig& config)
    : config_(config), decoder_(config), buffers_(std::make_unique<Buffers>(config.recv_batch, config.max_datagram)) {
    decoded_.reserve(4096);
    sampled_dns_.reserve(16);
}

UdpReceiver::~UdpReceiver() = default;

std::vector<std::string> UdpReceiver::open(const std::vector<ListenEndpoint>& listeners) {
    std::vector<std::string> warnings;
    std::size_t smallest_receive_buffer = SIZE_MAX;  // bytes, as the kernel granted them: bounds the naps
    for (const auto& l : listeners) {
        auto s = std::make_unique<Socket>();
        s->name = l.to_string();
        sockaddr_storage addr{};
        socklen_t addr_len = 0;
        const bool v6 = l.address.find(':') != std::string::npos;
        if (v6) {
            auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
            a->sin6_family = AF_INET6;
            a->sin6_port = htons(l.port);
            inet_pton(AF_INET6, l.address.c_str(), &a->sin6_addr);
            addr_len = sizeof(sockaddr_in6);
        } else {
            auto* a = reinterpret_cast<sockaddr_in*>(&addr);
            a->sin_family = AF_INET;
            a->sin_port = htons(l.port);
            inet_pton(AF_INET, l.address.c_str(), &a->sin_addr);
            addr_len = sizeof(sockaddr_in);
        }
        s->fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s->fd < 0) throw std::system_error(errno, std::generic_category(), s->name + ": socket");
        set_int_option(s->fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT", s->name);
        if (v6) set_int_option(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY", s->name);
        set_int_option(s->fd, SOL_SOCKET, SO_RXQ_OVFL, 1, "SO_RXQ_OVFL", s->name);
        const int wanted = static_cast<int>(std::min<std::size_t>(config_.socket_receive_buffer, INT32_MAX / 2));
        // SO_RCVBUFFORCE passes net.core.rmem_max when we may (CAP_NET_ADMIN); otherwise ask politely.
        if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &wanted, sizeof wanted) != 0)
            setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &wanted, sizeof wanted);
        int granted = 0;
        socklen_t len = sizeof granted;
        getsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &granted, &len);
        if (granted / 2 < wanted)  // Linux reports twice what it grants
            warnings.push_back(
                fmt::format("{}: receive buffer capped at {} bytes (asked {}); raise "
                            "net.core.rmem_max to avoid kernel drops",
                            s->name, granted / 2, wanted));
        smallest_receive_buffer = std::min(smallest_receive_buffer, static_cast<std::size_t>(std::max(granted, 0)));
        if (::bind(s->fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0)
            throw std::system_error(errno, std::generic_category(), s->name + ": bind");
        sockets_.push_back(std::move(s));
    }
    pacer_ = ReceivePacer(config_.receive_coalesce_ns, buffers_->messages.size(), smallest_receive_buffer);
    return warnings;
}

// SO_RXQ_OVFL stamps each datagram with the socket's drop count when it was queued, so drops after the
// last queued datagram (the tail of a flood) would never be seen. SO_MEMINFO reads the same counter
// (sk_drops) directly: asked once a second and after the final drain, it completes the count.
void UdpReceiver::read_drop_counter(Socket& socket) {
    std::array<std::uint32_t, SK_MEMINFO_VARS> meminfo{};
    socklen_t length = sizeof meminfo;
    if (getsockopt(socket.fd, SOL_SOCKET, SO_MEMINFO, meminfo.data(), &length) != 0 ||
        length < (SK_MEMINFO_DROPS + 1) * sizeof(std::uint32_t))
        return;
    note_kernel_drops(socket, meminfo[SK_MEMINFO_DROPS]);
}

void UdpReceiver::note_kernel_drops(Socket& socket, std::uint32_t observed) {
    if (const auto dropped = kernel_drops_since(socket.kernel_drops, observed)) {
        counters_.kernel_drops += dropped;
        socket.kernel_drops = observed;
    }
}

std::size_t UdpReceiver::read_burst(Socket& socket, int flags) {
    buffers_->reset();
    const int n = recvmmsg(socket.fd, buffers_->messages.data(), static_cast<unsigned>(buffers_->messages.size()),
                           flags, nullptr);
    if (n <= 0) {
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ++counters_.receive_errors;
        return 0;
    }
    const std::uint64_t received = wall_clock_ns();  // one clock read per burst: datagrams in it arrived together
    std::uint64_t records = 0;
    for (int i = 0; i < n; ++i) {
        auto& m = buffers_->messages[static_cast<std::size_t>(i)];
        for (cmsghdr* c = CMSG_FIRSTHDR(&m.msg_hdr); c != nullptr; c = CMSG_NXTHDR(&m.msg_hdr, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
                std::uint32_t dropped = 0;
                std::memcpy(&dropped, CMSG_DATA(c), sizeof dropped);
                note_kernel_drops(socket, dropped);
            }
        }
        counters_.bytes += m.msg_len;
        if (m.msg_hdr.msg_flags & MSG_TRUNC) {  // longer than the slot: a partial datagram is never decoded
            ++counters_.truncated;
            continue;
        }
        ExportPacket packet;
        const auto& from = buffers_->addresses[static_cast<std::size_t>(i)];
        if (from.ss_family == AF_INET6) {
            const auto* a = reinterpret_cast<const sockaddr_in6*>(&from);
            const auto* b = a->sin6_addr.s6_addr;
            const bool mapped = IN6_IS_ADDR_V4MAPPED(&a->sin6_addr);
            packet.exporter = mapped ? IpAddress::from_v4_bytes(b + 12) : IpAddress::from_v6_bytes(b);
            packet.exporter_port = ntohs(a->sin6_port);
        } else {
            const auto* a = reinterpret_cast<const sockaddr_in*>(&from);
            packet.exporter = IpAddress::from_v4_bytes(reinterpret_cast<const std::uint8_t*>(&a->sin_addr));
            packet.exporter_port = ntohs(a->sin_port);
        }
        packet.payload = std::span<const std::uint8_t>(
            buffers_->data.data() + static_cast<std::size_t>(i) * buffers_->slot_size, m.msg_len);
        packet.received_ns = received;
        // Delivered datagram by datagram: the decoded records are still in L1 when the pipeline copies them
        // into the shards' batches (a whole burst of them would not be).
        decoded_.clear();
        sampled_dns_.clear();
        decoder_.decode(packet, decoded_);
        records += decoded_.size();
        sink_->deliver(sampled_dns_, decoded_, received);
    }
    counters_.datagrams += static_cast<std::uint64_t>(n);
    counters_.records += records;
    return static_cast<std::size_t>(n);
}

std::vector<std::uint64_t> UdpReceiver::socket_inodes() const {
    std::vector<std::uint64_t> inodes;
    for (const auto& s : sockets_) {
        struct stat st {};
        if (::fstat(s->fd, &st) == 0) inodes.push_back(st.st_ino);
    }
    return inodes;
}

std::uint16_t UdpReceiver::bound_port(std::size_t index) const {
    if (index >= sockets_.size()) return 0;
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (getsockname(sockets_[index]->fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
    if (address.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
    if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
    return 0;
}

void UdpReceiver::housekeeping(std::uint64_t now) {
    sink_->tick(now);
    if (now - last_expiry_ns_ > 500'000'000ull) {  // data pending a template expires even when all is quiet
        decoder_.expire(now);
        last_expiry_ns_ = now;
    }
    if (now - last_publish_ns_ > 1'000'000'000ull) {
        for (auto& socket : sockets_) read_drop_counter(*socket);
        publish_stats();
        last_publish_ns_ = now;
    }
}

void UdpReceiver::publish_stats() {
    ReceiverSnapshot snap{counters_, decoder_.snapshot()};  // built outside the lock
    std::lock_guard lock(published_mutex_);
    published_ = std::move(snap);
}

ReceiverSnapshot UdpReceiver::published() const {
    std::lock_guard lock(published_mutex_);
    return published_;
}

// Datagrams gather in the socket buffers during the nap, so the next read takes many at once (see
// ReceivePacer): far fewer wake-ups per datagram at the rates exporters send.
void UdpReceiver::nap_after(std::size_t datagrams, bool slots_filled, std::uint64_t now) {
    if (const auto nap = pacer_.after_wakeup(datagrams, slots_filled, now))
        std::this_thread::sleep_for(std::chrono::nanoseconds(nap));
}

// Several listeners: poll them, then read each ready socket in bursts.
void UdpReceiver::run_polling(const std::atomic<bool>& stop) {
    std::vector<pollfd> fds;
    for (const auto& s : sockets_) fds.push_back(pollfd{s->fd, POLLIN, 0});
    while (!stop.load(std::memory_order_acquire)) {
        const bool partial = sink_->holding();
        std::size_t datagrams = 0;
        bool slots_filled = false;
        if (::poll(fds.data(), fds.size(), partial ? 2 : 100) > 0) {
            for (std::size_t i = 0; i < fds.size(); ++i) {
                if (!(fds[i].revents & POLLIN)) continue;
                bool full = true;
                for (int b = 0; b < kBurstsPerWakeup && full; ++b) {
                    const auto n = read_burst(*sockets_[i], MSG_DONTWAIT);
                    datagrams += n;
                    full = n == buffers_->messages.size();
                }
                slots_filled = slots_filled || full;  // this socket still has more: no nap
            }
        }
        const auto now = wall_clock_ns();
        housekeeping(now);
        nap_after(datagrams, slots_filled, now);
    }
}

// One listener: block in recvmmsg itself (MSG_WAITFORONE returns as soon as one datagram is there, with
// whatever else is queued), one system call per wake-up instead of poll + read. SO_RCVTIMEO bounds the
// wait so batches age out and the stop flag is seen.
void UdpReceiver::run_blocking(const std::atomic<bool>& stop) {
    Socket& s = *sockets_.front();
    const int flags = fcntl(s.fd, F_GETFL);
    fcntl(s.fd, F_SETFL, flags & ~O_NONBLOCK);
    bool short_wait = false;
    auto set_wait = [&](bool partial) {  // short while a batch is aging, long (cheap) when there is none
        const timeval timeout{0, static_cast<suseconds_t>(partial ? kMaxBatchAgeNs / 1000 : 100'000)};
        setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        short_wait = partial;
    };
    set_wait(false);
    while (!stop.load(std::memory_order_acquire)) {
        const auto datagrams = read_burst(s, MSG_WAITFORONE);
        const auto now = wall_clock_ns();
        housekeeping(now);
        nap_after(datagrams, datagrams == buffers_->messages.size(), now);
        const bool partial = sink_->holding();
        if (partial != short_wait) set_wait(partial);
    }
}

void UdpReceiver::run(const std::atomic<bool>& stop, RecordSink& sink) {
    sink_ = &sink;
    if (sink.wants_dns()) {
        // DNS answers in sFlow packet samples feed passive DNS in the shards, as the span meter's do.
        decoder_.on_sampled_packet([this](const PacketView& packet, const FlowRecord& record) {
            DnsEvent event;
            if (extract_dns(packet, record.time_received_ns, event) != DnsExtract::ok) return;
            ++counters_.dns_events;
            sampled_dns_.push_back(event);
        });
    }
    if (sockets_.size() == 1)
        run_blocking(stop);
    else
        run_polling(stop);
    // Stop: what the kernel still holds was received, so it is decoded and handed over too.
    for (auto& s : sockets_) {
        std::size_t drained = 0;
        while (drained < kDrainLimit) {
            const auto n = read_burst(*s, MSG_DONTWAIT);
            if (n == 0) break;
            drained += n;
        }
        read_drop_counter(*s);
    }
    sink.tick(UINT64_MAX);
    decoder_.finish();
    publish_stats();
    sink_ = nullptr;
}

std::vector<std::unique_ptr<UdpReceiver>> open_receivers(const CollectorConfig& config, std::size_t threads) {
    const auto held = read_udp_sockets();
    for (const auto& l : config.listen) refuse_if_port_held(l, held);
    std::vector<std::unique_ptr<UdpReceiver>> receivers;
    for (std::size_t i = 0; i < threads; ++i) {
        receivers.push_back(std::make_unique<UdpReceiver>(share_per_thread(config, threads)));
        const auto warnings = receivers.back()->open(config.listen);
        if (i == 0)
            for (const auto& w : warnings) spdlog::warn("{}", w);
    }
    return receivers;
}

PortGuard guard_ports(const CollectorConfig& config, const std::vector<const UdpReceiver*>& receivers) {
    std::vector<ListenEndpoint> listeners = config.listen;
    std::set<std::uint64_t> own;
    for (const auto* r : receivers)
        for (const auto inode : r->socket_inodes()) own.insert(inode);
    if (!receivers.empty())
        for (std::size_t i = 0; i < listeners.size(); ++i) listeners[i].port = receivers.front()->bound_port(i);
    return PortGuard(std::move(listeners), std::move(own));
}

}  // namespace flowguard::collector
