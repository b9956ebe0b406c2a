// recv_floor: what receiving alone costs - the kernel's share of any UDP collector on this machine, which no
// decoder can go below. One socket on 127.0.0.1:PORT with flowguard's receive buffer (32 MiB), read like
// flowguard's receive threads read (recvmmsg into 256 slots of 9,216 bytes; after a read that did not fill the
// slots, a nap of 128 datagrams at the measured rate, at most 10 ms), nothing decoded. Runs until SIGTERM or
// SIGINT, then prints {"datagrams":N,"bytes":N} on stdout. bench/compare-collectors.sh runs it as the
// collector `recv-floor`: its CPU per record beside nfcapd's says how far a 3x ratio can go at all.
//
//   recv_floor PORT
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t kSlots = 256;
constexpr std::size_t kSlotBytes = 9216;
constexpr int kReceiveBuffer = 32 << 20;
constexpr double kBurstTarget = 128;
constexpr std::int64_t kMaxNapNs = 10'000'000;
constexpr std::int64_t kRateWindowNs = 100'000'000;

std::atomic<bool> stop{false};

void on_signal(int) {
    stop = true;
}

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: recv_floor PORT\n");
        return 2;
    }
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &kReceiveBuffer, sizeof kReceiveBuffer) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kReceiveBuffer, sizeof kReceiveBuffer);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(std::atoi(argv[1])));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        std::perror("recv_floor: bind");
        return 1;
    }
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);

    std::vector<std::array<char, kSlotBytes>> slots(kSlots);
    std::vector<iovec> iov(kSlots);
    std::vector<mmsghdr> messages(kSlots);
    for (std::size_t i = 0; i < kSlots; ++i) {
        iov[i] = {slots[i].data(), kSlotBytes};
        messages[i].msg_hdr.msg_iov = &iov[i];
        messages[i].msg_hdr.msg_iovlen = 1;
    }
    std::uint64_t datagrams = 0;
    std::uint64_t bytes = 0;
    std::int64_t window_start = now_ns();
    std::uint64_t window_datagrams = 0;
    double rate_per_ns = 0;
    while (!stop) {
        const int n = recvmmsg(fd, messages.data(), kSlots, MSG_DONTWAIT, nullptr);
        const std::size_t got = n > 0 ? static_cast<std::size_t>(n) : 0;
        for (std::size_t i = 0; i < got; ++i) bytes += messages[i].msg_len;
        datagrams += got;
        window_datagrams += got;
        const std::int64_t now = now_ns();
        if (now - window_start >= kRateWindowNs) {
            rate_per_ns = static_cast<double>(window_datagrams) / static_cast<double>(now - window_start);
            window_start = now;
            window_datagrams = 0;
        }
        if (got == kSlots) continue;
        const auto nap = rate_per_ns > 0
                             ? std::min<std::int64_t>(kMaxNapNs, static_cast<std::int64_t>(kBurstTarget / rate_per_ns))
                             : kMaxNapNs;
        std::this_thread::sleep_for(std::chrono::nanoseconds(nap));
    }
    std::printf("{\"datagrams\":%llu,\"bytes\":%llu}\n", static_cast<unsigned long long>(datagrams),
                static_cast<unsigned long long>(bytes));
    return 0;
}
