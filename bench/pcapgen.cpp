// pcapgen: writes a large span-port capture for the meter benchmark (bench/compare-meters.py).
//
//   pcapgen --packets 3000000 --output span.pcap [--seed 1] [--active 20000] [--pps 100000] [--snaplen 128]
//
// Traffic model: `active` conversations run at once; each packet goes to a random one; a conversation that
// ends is replaced by a new one. Mix: TCP (handshake, data both ways, FIN; ~60%), UDP (~25%), DNS query +
// answer with A records (~8%), ICMP echo (~4%); a tenth of conversations over IPv6. Conversation lengths
// are heavy-tailed (most short, a few long), payloads 0-1460 bytes. Packets are cut at `snaplen` as a span
// capture with a small snaplen would be (DNS packets are kept whole so passive DNS has something to read).
// Times advance by exponential gaps at `pps` packets per second. Deterministic for a seed.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

struct Conversation {
    enum class Kind : std::uint8_t { tcp, udp, dns, icmp } kind = Kind::tcp;
    bool v6 = false;
    std::array<std::uint8_t, 16> client{};
    std::array<std::uint8_t, 16> server{};
    std::uint16_t client_port = 0;
    std::uint16_t server_port = 0;
    std::uint32_t sent = 0;
    std::uint32_t length = 0;  // packets in the conversation
};

class Writer {
public:
    Writer(const std::string& path, std::size_t snaplen) : snaplen_(snaplen), file_(std::fopen(path.c_str(), "wb")) {
        if (!file_) throw std::runtime_error("cannot write " + path);
        const std::uint32_t header[6] = {0xa1b23c4d, 0x00040002, 0, 0, 65535, 1};  // nanosecond pcap, Ethernet
        std::fwrite(header, 1, 24, file_);  // magic, version 2.4, zone, sigfigs, snaplen, linktype
    }
    ~Writer() {
        if (file_) std::fclose(file_);
    }
    void write(std::uint64_t time_ns, const std::uint8_t* frame, std::size_t length, bool whole) {
        const std::size_t captured = whole ? length : std::min(length, snaplen_);
        const std::uint32_t record[4] = {static_cast<std::uint32_t>(time_ns / 1'000'000'000),
                                         static_cast<std::uint32_t>(time_ns % 1'000'000'000),
                                         static_cast<std::uint32_t>(captured), static_cast<std::uint32_t>(length)};
        std::fwrite(record, 1, 16, file_);
        std::fwrite(frame, 1, captured, file_);
    }

private:
    std::size_t snaplen_;
    std::FILE* file_;
};

void put16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}

std::uint16_t ip_checksum(const std::uint8_t* p, std::size_t n) {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i + 1 < n; i += 2) sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

// Ethernet + IP header for `l4_length` bytes of layer 4; returns the layer-4 offset.
std::size_t ip_header(std::uint8_t* f, const Conversation& c, bool from_client, std::uint8_t proto,
                      std::size_t l4_length) {
    std::memset(f, 0, 14);
    f[5] = from_client ? 1 : 2;
    f[11] = from_client ? 2 : 1;
    const auto& src = from_client ? c.client : c.server;
    const auto& dst = from_client ? c.server : c.client;
    if (c.v6) {
        put16(f + 12, 0x86dd);
        std::uint8_t* ip = f + 14;
        std::memset(ip, 0, 40);
        ip[0] = 0x60;
        put16(ip + 4, static_cast<std::uint16_t>(l4_length));
        ip[6] = proto == 1 ? 58 : proto;
        ip[7] = 64;
        std::memcpy(ip + 8, src.data(), 16);
        std::memcpy(ip + 24, dst.data(), 16);
        return 54;
    }
    put16(f + 12, 0x0800);
    std::uint8_t* ip = f + 14;
    std::memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, static_cast<std::uint16_t>(20 + l4_length));
    ip[8] = 64;
    ip[9] = proto;
    std::memcpy(ip + 12, src.data() + 12, 4);
    std::memcpy(ip + 16, dst.data() + 12, 4);
    put16(ip + 10, ip_checksum(ip, 20));
    return 34;
}

std::size_t dns_message(std::uint8_t* p, std::uint32_t serial, bool answer) {
    std::uint8_t* start = p;
    put16(p, static_cast<std::uint16_t>(serial));
    put16(p + 2, answer ? 0x8180 : 0x0100);
    put16(p + 4, 1);
    put16(p + 6, answer ? 2 : 0);
    put16(p + 8, 0);
    put16(p + 10, 0);
    p += 12;
    char label[16];
    const int n = std::snprintf(label, sizeof label, "h%u", serial % 50000);
    *p++ = static_cast<std::uint8_t>(n);
    std::memcpy(p, label, static_cast<std::size_t>(n));
    p += n;
    for (const char* part : {"example", "com"}) {
        *p++ = static_cast<std::uint8_t>(std::strlen(part));
        std::memcpy(p, part, std::strlen(part));
        p += std::strlen(part);
    }
    *p++ = 0;
    put16(p, 1);
    put16(p + 2, 1);
    p += 4;
    for (int a = 0; answer && a < 2; ++a) {
        put16(p, 0xc00c);
        put16(p + 2, 1);
        put16(p + 4, 1);
        put16(p + 6, 0);
        put16(p + 8, 300);
        put16(p + 10, 4);
        p[12] = 203;
        p[13] = 0;
        p[14] = static_cast<std::uint8_t>(serial >> 8);
        p[15] = static_cast<std::uint8_t>(serial + a);
        p += 16;
    }
    return static_cast<std::size_t>(p - start);
}

class Generator {
public:
    Generator(std::uint64_t seed, std::size_t active) : rng_(seed), conversations_(active) {
        for (auto& c : conversations_) start(c);
    }

    // Next packet of a random conversation into `frame`; returns its length, sets `whole` for DNS.
    std::size_t next(std::uint8_t* frame, bool& whole) {
        auto& c = conversations_[pick_(rng_) % conversations_.size()];
        const std::size_t length = packet(c, frame, whole);
        if (++c.sent >= c.length) start(c);
        return length;
    }

private:
    void start(Conversation& c) {
        const auto kind = std::uniform_int_distribution<int>(0, 99)(rng_);
        c.kind = kind < 60   ? Conversation::Kind::tcp
                 : kind < 85 ? Conversation::Kind::udp
                 : kind < 93 ? Conversation::Kind::dns
                             : Conversation::Kind::icmp;
        c.v6 = std::uniform_int_distribution<int>(0, 9)(rng_) == 0;
        const auto client = std::uniform_int_distribution<std::uint32_t>(0, 4095)(rng_);
        const auto server = std::uniform_int_distribution<std::uint32_t>(0, 65535)(rng_);
        c.client = {};
        c.server = {};
        if (c.v6) {
            c.client = {0x20, 0x01, 0x0d, 0xb8, 0, 1};
            c.server = {0x20, 0x01, 0x0d, 0xb8, 0, 2};
        } else {
            c.client[10] = c.client[11] = c.server[10] = c.server[11] = 0xff;
            c.client[12] = 10;
            c.server[12] = 198;
            c.server[13] = 51;
        }
        c.client[14] = static_cast<std::uint8_t>(client >> 8);
        c.client[15] = static_cast<std::uint8_t>(client);
        c.server[14] = static_cast<std::uint8_t>(server >> 8);
        c.server[15] = static_cast<std::uint8_t>(server);
        c.client_port = static_cast<std::uint16_t>(std::uniform_int_distribution<int>(1024, 65535)(rng_));
        static constexpr std::array<std::uint16_t, 6> kTcpPorts{443, 80, 22, 445, 3389, 8080};
        static constexpr std::array<std::uint16_t, 4> kUdpPorts{443, 123, 5060, 4500};
        c.server_port = c.kind == Conversation::Kind::tcp   ? kTcpPorts[client % kTcpPorts.size()]
                        : c.kind == Conversation::Kind::udp ? kUdpPorts[client % kUdpPorts.size()]
                        : c.kind == Conversation::Kind::dns ? 53
                                                            : 0;
        c.sent = 0;
        // Heavy-tailed length: most conversations are short, a few are long.
        const double u = std::uniform_real_distribution<double>(0.01, 1.0)(rng_);
        const auto tail = static_cast<std::uint32_t>(std::min(4000.0, 4.0 / (u * u)));
        c.length = c.kind == Conversation::Kind::dns ? 2 : c.kind == Conversation::Kind::tcp ? 6 + tail : 1 + tail / 2;
        ++serial_;
    }

    std::size_t packet(const Conversation& c, std::uint8_t* f, bool& whole) {
        whole = false;
        const bool from_client = c.kind == Conversation::Kind::dns ? c.sent == 0 : (c.sent % 3) != 1;
        const auto payload = std::uniform_int_distribution<std::size_t>(0, 1460)(rng_);
        const std::uint16_t sport = from_client ? c.client_port : c.server_port;
        const std::uint16_t dport = from_client ? c.server_port : c.client_port;
        switch (c.kind) {
            case Conversation::Kind::tcp: {
                const bool handshake = c.sent < 2;
                const bool last = c.sent + 2 >= c.length;
                const std::size_t data = handshake || last ? 0 : payload;
                const auto at = ip_header(f, c, from_client, 6, 20 + data);
                std::memset(f + at, 0, 20 + std::min<std::size_t>(data, 128));
                put16(f + at, sport);
                put16(f + at + 2, dport);
                f[at + 12] = 0x50;
                f[at + 13] = c.sent == 0 ? 0x02 : c.sent == 1 ? 0x12 : last ? 0x11 : 0x18;
                return at + 20 + data;
            }
            case Conversation::Kind::udp: {
                const auto at = ip_header(f, c, from_client, 17, 8 + payload);
                std::memset(f + at, 0, 8 + std::min<std::size_t>(payload, 128));
                put16(f + at, sport);
                put16(f + at + 2, dport);
                put16(f + at + 4, static_cast<std::uint16_t>(8 + payload));
                return at + 8 + payload;
            }
            case Conversation::Kind::dns: {
                whole = true;
                std::uint8_t message[512];
                const auto n = dns_message(message, serial_, !from_client);
                const auto at = ip_header(f, c, from_client, 17, 8 + n);
                put16(f + at, sport);
                put16(f + at + 2, dport);
                put16(f + at + 4, static_cast<std::uint16_t>(8 + n));
                put16(f + at + 6, 0);
                std::memcpy(f + at + 8, message, n);
                return at + 8 + n;
            }
            case Conversation::Kind::icmp: {
                const auto at = ip_header(f, c, from_client, 1, 64);
                std::memset(f + at, 0, 64);
                f[at] = c.v6 ? (from_client ? 128 : 129) : (from_client ? 8 : 0);
                put16(f + at + 4, static_cast<std::uint16_t>(serial_));
                return at + 64;
            }
        }
        return 0;
    }

    std::mt19937_64 rng_;
    std::uniform_int_distribution<std::size_t> pick_{0, SIZE_MAX};
    std::vector<Conversation> conversations_;
    std::uint32_t serial_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Write a large span-port capture for the meter benchmark"};
    std::uint64_t packets = 3'000'000;
    std::string output;
    std::uint64_t seed = 1;
    std::size_t active = 20000;
    double pps = 100000;
    std::size_t snaplen = 128;
    app.add_option("--packets", packets, "packets to write");
    app.add_option("--output", output, "pcap file to write")->required();
    app.add_option("--seed", seed, "random seed (same seed, same capture)");
    app.add_option("--active", active, "conversations running at once")->check(CLI::Range(1, 10'000'000));
    app.add_option("--pps", pps, "average packets per second of capture time")->check(CLI::PositiveNumber);
    app.add_option("--snaplen", snaplen, "bytes kept per packet (DNS packets are kept whole)")
        ->check(CLI::Range(64, 65535));
    CLI11_PARSE(app, argc, argv);

    Generator generator(seed, active);
    Writer writer(output, snaplen);
    std::mt19937_64 clock_rng(seed ^ 0x9e3779b97f4a7c15ull);
    std::exponential_distribution<double> gap(pps);
    std::uint64_t time_ns = 1'709'294'400ull * 1'000'000'000ull;
    std::array<std::uint8_t, 2048> frame{};
    std::uint64_t bytes = 0;
    for (std::uint64_t i = 0; i < packets; ++i) {
        bool whole = false;
        const auto length = generator.next(frame.data(), whole);
        writer.write(time_ns, frame.data(), length, whole);
        bytes += length;
        time_ns += static_cast<std::uint64_t>(gap(clock_rng) * 1e9);
    }
    std::printf("{\"packets\":%llu,\"frame_bytes\":%llu,\"seconds\":%.1f}\n", static_cast<unsigned long long>(packets),
                static_cast<unsigned long long>(bytes), static_cast<double>(packets) / pps);
    return 0;
}
