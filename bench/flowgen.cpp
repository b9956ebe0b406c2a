// flowgen: sends valid NetFlow v5 / v9 / IPFIX export packets to a collector on this machine, at a
// given packet rate or as fast as possible, with sendmmsg. Each simulated exporter has its own UDP source
// port, sequence numbers and templates (resent every --template-every packets). Prints what it sent as
// JSON on stdout. Refuses any destination outside 127.0.0.0/8 and ::1.
//
//   flowgen --dest 127.0.0.1:2055 --version 10 --rate 20000 --duration 10 --exporters 4
#include "export_encoder.hpp"

#include <CLI/CLI.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using namespace flowguard::bench;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kRingPackets = 512;  // packets pre-encoded per exporter, replayed with fresh headers

struct Exporter {
    int fd = -1;
    std::vector<std::vector<std::uint8_t>> packets;
    std::vector<std::uint32_t> records;
    std::size_t next = 0;
    std::uint64_t sent_packets = 0;
    std::uint64_t sent_records = 0;
};

// Rewrites the header fields that change over time: sequence number and export time.
void refresh_header(ExportVersion v, std::vector<std::uint8_t>& p, const Exporter& e, std::uint32_t secs) {
    auto put32 = [&](std::size_t at, std::uint32_t x) {
        const std::uint32_t be = htonl(x);
        std::memcpy(p.data() + at, &be, 4);
    };
    switch (v) {
        case ExportVersion::v5:
            put32(8, secs);
            put32(16, static_cast<std::uint32_t>(e.sent_records));  // flows seen before this packet
            break;
        case ExportVersion::v9:
            put32(8, secs);
            put32(12, static_cast<std::uint32_t>(e.sent_packets));  // export packets
            break;
        default:
            put32(4, secs);
            put32(8, static_cast<std::uint32_t>(e.sent_records));  // data records before this message
            break;
    }
}

bool loopback(const sockaddr_storage& a) {
    if (a.ss_family == AF_INET) return (ntohl(reinterpret_cast<const sockaddr_in*>(&a)->sin_addr.s_addr) >> 24) == 127;
    return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(&a)->sin6_addr);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{"flowgen: NetFlow/IPFIX load generator (loopback only)"};
    std::string dest = "127.0.0.1:2055";
    std::string version_text = "10";
    double rate = 0;
    double duration = 5;
    std::uint64_t max_packets = 0;
    unsigned exporters_count = 1;
    unsigned template_every = 64;
    unsigned batch = 32;
    std::uint32_t seed = 1;
    cli.add_option("--dest", dest, "collector address, 127.0.0.0/8 or [::1], with :PORT");
    cli.add_option("--version", version_text, "5, 9, 10 (IPFIX) or 10v (IPFIX with a variable-length field)")
        ->check(CLI::IsMember({"5", "9", "10", "10v"}));
    cli.add_option("--rate", rate, "packets per second in total (0 = as fast as possible)");
    cli.add_option("--duration", duration, "seconds to send");
    cli.add_option("--packets", max_packets, "stop after this many packets (0 = no limit)");
    cli.add_option("--exporters", exporters_count, "simulated exporters (distinct source ports)")
        ->check(CLI::Range(1, 10000));
    cli.add_option("--template-every", template_every, "resend templates every N packets")->check(CLI::Range(1, 512));
    cli.add_option("--batch", batch, "packets per sendmmsg call")->check(CLI::Range(1, 1024));
    cli.add_option("--seed", seed, "record mix seed");
    CLI11_PARSE(cli, argc, argv);

    const auto version = version_text == "5"    ? ExportVersion::v5
                         : version_text == "9"  ? ExportVersion::v9
                         : version_text == "10" ? ExportVersion::ipfix
                                                : ExportVersion::ipfix_varlen;
    sockaddr_storage to{};
    socklen_t to_len = 0;
    const auto colon = dest.rfind(':');
    std::string host = dest.substr(0, colon);
    const int port = std::stoi(dest.substr(colon + 1));
    if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
    if (inet_pton(AF_INET, host.c_str(), &reinterpret_cast<sockaddr_in*>(&to)->sin_addr) == 1) {
        to.ss_family = AF_INET;
        reinterpret_cast<sockaddr_in*>(&to)->sin_port = htons(static_cast<std::uint16_t>(port));
        to_len = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, host.c_str(), &reinterpret_cast<sockaddr_in6*>(&to)->sin6_addr) == 1) {
        to.ss_family = AF_INET6;
        reinterpret_cast<sockaddr_in6*>(&to)->sin6_port = htons(static_cast<std::uint16_t>(port));
        to_len = sizeof(sockaddr_in6);
    }
    if (to_len == 0 || !loopback(to)) {
        std::fprintf(stderr, "flowgen: --dest must be a loopback address (127.0.0.0/8 or ::1) with a port\n");
        return 2;
    }

    const auto start_secs = static_cast<std::uint32_t>(std::time(nullptr));
    std::vector<Exporter> exporters(exporters_count);
    for (unsigned i = 0; i < exporters_count; ++i) {
        auto& e = exporters[i];
        e.fd = socket(to.ss_family, SOCK_DGRAM, 0);
        int sndbuf = 4 << 20;
        setsockopt(e.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        ExportEncoder encoder(version, seed + i, i, template_every);
        e.packets.resize(kRingPackets);
        for (auto& p : e.packets) e.records.push_back(encoder.next(p, start_secs));
    }

    std::vector<mmsghdr> msgs(batch);
    std::vector<iovec> iov(batch);
    std::uint64_t send_errors = 0;
    std::uint64_t total_packets = 0;
    std::uint64_t total_records = 0;
    std::uint64_t total_bytes = 0;
    const auto t0 = Clock::now();
    const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration));
    const double per_packet_s = rate > 0 ? 1.0 / rate : 0;
    std::size_t turn = 0;
    while (Clock::now() < deadline && (max_packets == 0 || total_packets < max_packets)) {
        auto& e = exporters[turn++ % exporters.size()];
        const auto secs = static_cast<std::uint32_t>(std::time(nullptr));
        unsigned n = batch;
        if (max_packets) n = static_cast<unsigned>(std::min<std::uint64_t>(n, max_packets - total_packets));
        for (unsigned i = 0; i < n; ++i) {
            auto& p = e.packets[(e.next + i) % kRingPackets];
            // Headers are rewritten in order, so each packet carries the sequence it is sent with.
            refresh_header(version, p, e, secs);
            e.sent_packets++;
            e.sent_records += e.records[(e.next + i) % kRingPackets];
            iov[i] = iovec{p.data(), p.size()};
            msgs[i] = mmsghdr{};
            msgs[i].msg_hdr.msg_name = &to;
            msgs[i].msg_hdr.msg_namelen = to_len;
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        const int sent = sendmmsg(e.fd, msgs.data(), n, 0);
        const unsigned ok = sent > 0 ? static_cast<unsigned>(sent) : 0;
        for (unsigned i = 0; i < ok; ++i) {
            const auto idx = (e.next + i) % kRingPackets;
            total_records += e.records[idx];
            total_bytes += e.packets[idx].size();
        }
        send_errors += n - ok;
        // A packet the kernel refused was not sent: its sequence numbers are taken back.
        for (unsigned i = ok; i < n; ++i) {
            e.sent_packets--;
            e.sent_records -= e.records[(e.next + i) % kRingPackets];
        }
        e.next = (e.next + ok) % kRingPackets;
        total_packets += ok;
        if (per_packet_s > 0) {
            const auto due = t0 + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(static_cast<double>(total_packets) * per_packet_s));
            std::this_thread::sleep_until(due);
        }
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf(
        "{\"version\":\"%s\",\"exporters\":%u,\"packets\":%llu,\"records\":%llu,\"bytes\":%llu,"
        "\"seconds\":%.3f,\"packets_per_second\":%.0f,\"records_per_second\":%.0f,\"send_errors\":%llu}\n",
        version_text.c_str(), exporters_count, static_cast<unsigned long long>(total_packets),
        static_cast<unsigned long long>(total_records), static_cast<unsigned long long>(total_bytes), seconds,
        static_cast<double>(total_packets) / seconds, static_cast<double>(total_records) / seconds,
        static_cast<unsigned long long>(send_errors));
    for (auto& e : exporters) close(e.fd);
    return 0;
}
