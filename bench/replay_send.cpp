// replay_send: sends a real exporter's capture (softflowd, pmacctd, the Cisco/Juniper/Huawei fixtures) to a
// collector on this machine, over and over as the exporter would keep sending it: datagrams in capture order,
// templates and options as captured, each loop's sequence numbers moved on by what one loop spans and export
// times set to now, so a collector sees live streams, not duplicates of old ones. --copies N replays it as N
// exporters, each from its own loopback address (127.0.1.1, 127.0.1.2, ...), so every collector keeps them
// apart. Prints what it sent as JSON on stdout, records counted as a collector decodes them (the first loop's
// data before its templates arrive does not count). Refuses any destination outside 127.0.0.0/8.
//
//   replay_send --dest 127.0.0.1:2055 [--rate 20000] [--duration 10] [--copies 4] [--batch 32] FILE[+FILE...]
#include "replay_capture.hpp"

#include <flowguard/collector/flow_decoder.hpp>

#include <CLI/CLI.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <string>
#include <thread>
#include <vector>

using namespace flowguard;
using namespace flowguard::bench;
using Clock = std::chrono::steady_clock;

namespace {

struct Capture {
    std::vector<Datagram> datagrams;         // `records`: what each decodes to from the second loop on
    std::vector<std::size_t> sender_of;      // per datagram: index of its original exporter (address, port)
    std::size_t exporters = 0;               // distinct original (address, port) pairs
    std::vector<std::size_t> first_records;  // per datagram: records decoded on the first loop
};

Capture load(const std::string& files) {
    Capture c;
    c.datagrams = read_all(files);
    if (c.datagrams.empty()) throw std::runtime_error(files + ": no UDP datagrams");
    std::vector<Datagram*> all;
    std::map<std::pair<IpAddress, std::uint16_t>, std::size_t> index;
    for (auto& d : c.datagrams) {
        all.push_back(&d);
        c.sender_of.push_back(index.try_emplace({d.exporter, d.port}, index.size()).first->second);
    }
    c.exporters = index.size();
    assign_steps(all);
    collector::FlowDecoder decoder{CollectorConfig{}};
    c.first_records = count_records(c.datagrams, decoder);
    return c;
}

// Sequence number moved on by `loop` loops, export time now. sFlow carries no export time.
void refresh(Datagram& d, std::uint32_t loop, std::uint32_t now) {
    auto* p = d.bytes.data() + 8;
    if (d.sequence_at != 0) store32(p + d.sequence_at, d.sequence + loop * d.step);
    const std::uint16_t version = static_cast<std::uint16_t>(p[0] << 8 | p[1]);
    if (version == 5 || version == 9) store32(p + 8, now);
    if (version == 10) store32(p + 4, now);
}

int open_sender(std::uint32_t source_v4) {
    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) throw std::runtime_error("socket() failed");
    int sndbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    from.sin_addr.s_addr = htonl(source_v4);
    if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0)
        throw std::runtime_error("bind() to a 127.0.1.x source failed");
    return fd;
}

struct Copy {
    std::size_t next = 0;    // next datagram of the capture
    std::uint32_t loop = 0;  // loops completed
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{"replay_send: replays a real exporter's capture to a collector (loopback only)"};
    std::string dest = "127.0.0.1:2055";
    std::string files;
    double rate = 0;
    double duration = 5;
    unsigned copies = 1;
    unsigned batch = 32;
    cli.add_option("--dest", dest, "collector address in 127.0.0.0/8, with :PORT");
    cli.add_option("--rate", rate, "datagrams per second in total (0 = as fast as possible)");
    cli.add_option("--duration", duration, "seconds to send");
    cli.add_option("--copies", copies, "exporters replaying the capture, each from its own address")
        ->check(CLI::Range(1, 4000));
    cli.add_option("--batch", batch, "datagrams per sendmmsg call at most")->check(CLI::Range(1, 1024));
    cli.add_option("capture", files, "pcap file(s) of one exporter, joined by '+' (templates file first)")->required();
    CLI11_PARSE(cli, argc, argv);

    sockaddr_in to{};
    to.sin_family = AF_INET;
    const auto colon = dest.rfind(':');
    const int port = colon == std::string::npos ? 0 : std::atoi(dest.c_str() + colon + 1);
    to.sin_port = htons(static_cast<std::uint16_t>(port));
    if (port <= 0 || port > 65535 || inet_pton(AF_INET, dest.substr(0, colon).c_str(), &to.sin_addr) != 1 ||
        (ntohl(to.sin_addr.s_addr) >> 24) != 127) {
        std::fprintf(stderr, "replay_send: --dest must be an address in 127.0.0.0/8 with a port\n");
        return 2;
    }
    Capture capture;
    try {
        capture = load(files);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "replay_send: %s\n", e.what());
        return 1;
    }
    if (copies * capture.exporters > 65000) {
        std::fprintf(stderr, "replay_send: too many copies for this capture's exporters\n");
        return 2;
    }
    std::vector<int> senders;  // copy c, original exporter e: senders[c * exporters + e], from 127.0.1.0 + 1 + that
    try {
        for (std::size_t i = 0; i < copies * capture.exporters; ++i)
            senders.push_back(open_sender(0x7f000100u + 1 + static_cast<std::uint32_t>(i)));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "replay_send: %s\n", e.what());
        return 1;
    }

    std::vector<Copy> state(copies);
    std::vector<mmsghdr> msgs(batch);
    std::vector<iovec> iov(batch);
    std::uint64_t packets = 0, records = 0, bytes = 0, send_errors = 0;
    const auto t0 = Clock::now();
    const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration));
    const double per_packet_s = rate > 0 ? 1.0 / rate : 0;
    const auto& ds = capture.datagrams;
    for (std::size_t turn = 0; Clock::now() < deadline; ++turn) {
        auto& copy = state[turn % copies];
        const auto now = static_cast<std::uint32_t>(std::time(nullptr));
        // One sendmmsg: consecutive datagrams of this copy from the same original exporter, up to a loop's end.
        const std::size_t exporter = capture.sender_of[copy.next];
        unsigned n = 0;
        while (n < batch && copy.next + n < ds.size() && capture.sender_of[copy.next + n] == exporter) {
            auto& d = capture.datagrams[copy.next + n];
            refresh(d, copy.loop, now);
            iov[n] = iovec{d.bytes.data() + 8, d.bytes.size() - 8};
            msgs[n] = mmsghdr{};
            msgs[n].msg_hdr.msg_name = &to;
            msgs[n].msg_hdr.msg_namelen = sizeof to;
            msgs[n].msg_hdr.msg_iov = &iov[n];
            msgs[n].msg_hdr.msg_iovlen = 1;
            ++n;
        }
        const int sent = sendmmsg(senders[(turn % copies) * capture.exporters + exporter], msgs.data(), n, 0);
        const unsigned ok = sent > 0 ? static_cast<unsigned>(sent) : 0;
        send_errors += n - ok;  // not sent: sent again next turn, with the same sequence numbers
        for (unsigned i = 0; i < ok; ++i) {
            const std::size_t k = copy.next + i;
            records += copy.loop == 0 ? capture.first_records[k] : ds[k].records;
            bytes += ds[k].bytes.size() - 8;
        }
        packets += ok;
        copy.next += ok;
        if (copy.next == ds.size()) {
            copy.next = 0;
            ++copy.loop;
        }
        if (per_packet_s > 0)
            std::this_thread::sleep_until(
                t0 + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(static_cast<double>(packets) * per_packet_s)));
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    std::size_t per_loop = 0;
    for (const auto& d : ds) per_loop += d.records;
    std::printf(
        "{\"datagrams_per_loop\":%zu,\"records_per_loop\":%zu,\"exporters_per_copy\":%zu,\"copies\":%u,"
        "\"packets\":%llu,\"records\":%llu,\"bytes\":%llu,\"seconds\":%.3f,\"packets_per_second\":%.0f,"
        "\"records_per_second\":%.0f,\"send_errors\":%llu}\n",
        ds.size(), per_loop, capture.exporters, copies, static_cast<unsigned long long>(packets),
        static_cast<unsigned long long>(records), static_cast<unsigned long long>(bytes), seconds,
        static_cast<double>(packets) / seconds, static_cast<double>(records) / seconds,
        static_cast<unsigned long long>(send_errors));
    for (int fd : senders) close(fd);
    return 0;
}
