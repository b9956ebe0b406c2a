// recv_floor: what receiving alone costs - the kernel's share of any UDP collector on this machine, which no
// decoder can go below. One socket on 127.0.0.1:PORT read as flowguard's receive threads read it, with the
// collector's defaults (receive buffer, recvmmsg slots and their size) and its own ReceivePacer for the naps
// between reads; nothing decoded. Runs until SIGTERM or SIGINT, then prints {"datagrams":N,"bytes":N} on
// stdout. bench/compare-collectors.sh runs it as the collector `recv-floor`: its CPU per record beside
// nfcapd's says how far a 3x ratio can go at all.
//
//   recv_floor PORT
#include <flowguard/collector/config.hpp>
#include <flowguard/collector/receive_pacer.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

std::atomic<bool> stop{false};

void on_signal(int) {
    stop = true;
}

std::uint64_t now_ns() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: recv_floor PORT\n");
        return 2;
    }
    const flowguard::CollectorConfig defaults;
    const std::size_t slot_count = defaults.recv_batch;
    const std::size_t slot_bytes = defaults.max_datagram;
    const int wanted = static_cast<int>(defaults.socket_receive_buffer);
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &wanted, sizeof wanted) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &wanted, sizeof wanted);
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
    int granted = 0;
    socklen_t granted_size = sizeof granted;
    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &granted_size);
    flowguard::collector::ReceivePacer pacer(defaults.receive_coalesce_ns, slot_count,
                                             static_cast<std::size_t>(granted));

    std::vector<char> slots(slot_count * slot_bytes);
    std::vector<iovec> iov(slot_count);
    std::vector<mmsghdr> messages(slot_count);
    for (std::size_t i = 0; i < slot_count; ++i) {
        iov[i] = {slots.data() + i * slot_bytes, slot_bytes};
        messages[i].msg_hdr.msg_iov = &iov[i];
        messages[i].msg_hdr.msg_iovlen = 1;
    }
    std::uint64_t datagrams = 0;
    std::uint64_t bytes = 0;
    while (!stop) {
        const int n = recvmmsg(fd, messages.data(), static_cast<unsigned>(slot_count), MSG_DONTWAIT, nullptr);
        const std::size_t got = n > 0 ? static_cast<std::size_t>(n) : 0;
        for (std::size_t i = 0; i < got; ++i) bytes += messages[i].msg_len;
        datagrams += got;
        // Nothing read and no nap from the pacer (no rate measured yet): the longest nap, not a busy loop.
        const std::uint64_t nap = pacer.after_wakeup(got, got == slot_count, now_ns());
        const std::uint64_t wait = got == 0 && nap == 0 ? defaults.receive_coalesce_ns : nap;
        if (wait != 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
    }
    std::printf("{\"datagrams\":%llu,\"bytes\":%llu}\n", static_cast<unsigned long long>(datagrams),
                static_cast<unsigned long long>(bytes));
    return 0;
}
