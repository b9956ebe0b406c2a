#pragma once
// Encodes realistic NetFlow v5 / v9 / IPFIX export packets for benchmarks and the load generator:
// a mix of TCP/UDP/ICMP flows over IPv4 and IPv6, correct sequence numbers, templates at the start
// and every `template_every` packets. Deterministic per seed.
#include <cstdint>
#include <random>
#include <vector>

namespace flowguard::bench {

enum class ExportVersion { v5, v9, ipfix, ipfix_varlen };

class ExportEncoder {
public:
    ExportEncoder(ExportVersion version, std::uint32_t seed, std::uint32_t domain = 0,
                  std::uint32_t template_every = 64)
        : version_(version), rng_(seed), domain_(domain), template_every_(template_every) {}

    // Encodes the next packet into `out` (cleared first); returns the number of flow records in it.
    std::uint32_t next(std::vector<std::uint8_t>& out, std::uint32_t unix_secs) {
        out.clear();
        switch (version_) {
            case ExportVersion::v5:
                return encode_v5(out, unix_secs);
            case ExportVersion::v9:
                return encode_v9(out, unix_secs);
            default:
                return encode_ipfix(out, unix_secs);
        }
    }

    std::uint64_t records_sent() const { return records_; }
    std::uint64_t packets_sent() const { return packets_; }

private:
    static void u8(std::vector<std::uint8_t>& o, std::uint64_t v) { o.push_back(static_cast<std::uint8_t>(v)); }
    static void u16(std::vector<std::uint8_t>& o, std::uint64_t v) {
        u8(o, v >> 8);
        u8(o, v);
    }
    static void u32(std::vector<std::uint8_t>& o, std::uint64_t v) {
        u16(o, v >> 16);
        u16(o, v);
    }
    static void u64(std::vector<std::uint8_t>& o, std::uint64_t v) {
        u32(o, v >> 32);
        u32(o, v);
    }
    static void put16(std::vector<std::uint8_t>& o, std::size_t at, std::uint64_t v) {
        o[at] = static_cast<std::uint8_t>(v >> 8);
        o[at + 1] = static_cast<std::uint8_t>(v);
    }

    struct Flow {
        bool v6;
        std::uint8_t proto;
        std::uint32_t src4, dst4;
        std::uint64_t src6_lo, dst6_lo;
        std::uint16_t sport, dport;
        std::uint32_t packets, bytes;
    };

    Flow random_flow() {
        Flow f{};
        f.v6 = (rng_() % 100) < 30;
        const auto p = rng_() % 100;
        f.proto = p < 60 ? 6 : p < 95 ? 17 : (f.v6 ? 58 : 1);
        f.src4 = 0x0a000000u | static_cast<std::uint32_t>(rng_() & 0xffffff);
        f.dst4 = 0xc6336400u | static_cast<std::uint32_t>(rng_() & 0xff);
        f.src6_lo = rng_();
        f.dst6_lo = rng_();
        f.sport = static_cast<std::uint16_t>(1024 + rng_() % 60000);
        static constexpr std::uint16_t ports[] = {443, 80, 53, 22, 445, 3389, 123, 8080};
        f.dport = ports[rng_() % 8];
        f.packets = static_cast<std::uint32_t>(1 + rng_() % 200);
        f.bytes = f.packets * static_cast<std::uint32_t>(40 + rng_() % 1400);
        return f;
    }

    std::uint32_t encode_v5(std::vector<std::uint8_t>& o, std::uint32_t secs) {
        constexpr std::uint32_t n = 30;
        const std::uint32_t uptime = uptime_ms(secs);
        u16(o, 5);
        u16(o, n);
        u32(o, uptime);
        u32(o, secs);
        u32(o, 0);
        u32(o, static_cast<std::uint32_t>(records_));
        u8(o, 0);
        u8(o, static_cast<std::uint8_t>(domain_));
        u16(o, 0);
        for (std::uint32_t i = 0; i < n; ++i) {
            auto f = random_flow();
            u32(o, f.src4);
            u32(o, f.dst4);
            u32(o, 0x0a0000fe);
            u16(o, 1);
            u16(o, 2);
            u32(o, f.packets);
            u32(o, f.bytes);
            u32(o, uptime - 5000);
            u32(o, uptime - 100);
            u16(o, f.sport);
            u16(o, f.dport);
            u8(o, 0);
            u8(o, 0x1b);
            u8(o, f.v6 ? 17 : f.proto);
            u8(o, 0);
            u16(o, 64500);
            u16(o, 15169);
            u8(o, 24);
            u8(o, 24);
            u16(o, 0);
        }
        records_ += n;
        ++packets_;
        return n;
    }

    // v9: IPv4 template 256 (19 fields, 45 bytes), IPv6 template 257 (69 bytes).
    void v9_templates(std::vector<std::uint8_t>& o) {
        const std::size_t start = o.size();
        u16(o, 0);
        u16(o, 0);
        const std::uint16_t v4[][2] = {{8, 4},  {12, 4}, {15, 4}, {7, 2},  {11, 2}, {4, 1},  {5, 1},
                                       {6, 1},  {10, 4}, {14, 4}, {1, 4},  {2, 4},  {22, 4}, {21, 4},
                                       {16, 2}, {17, 2}, {9, 1},  {13, 1}, {61, 1}};
        const std::uint16_t v6[][2] = {{27, 16}, {28, 16}, {62, 16}, {7, 2},  {11, 2}, {4, 1},  {5, 1},
                                       {6, 1},   {10, 4},  {14, 4},  {1, 4},  {2, 4},  {22, 4}, {21, 4},
                                       {16, 2},  {17, 2},  {29, 1},  {30, 1}, {61, 1}};
        u16(o, 256);
        u16(o, 19);
        for (auto& f : v4) {
            u16(o, f[0]);
            u16(o, f[1]);
        }
        u16(o, 257);
        u16(o, 19);
        for (auto& f : v6) {
            u16(o, f[0]);
            u16(o, f[1]);
        }
        put16(o, start + 2, o.size() - start);
    }

    void v9_record(std::vector<std::uint8_t>& o, const Flow& f, std::uint32_t uptime) {
        if (f.v6) {
            u64(o, 0x20010db800000000ull);
            u64(o, f.src6_lo);
            u64(o, 0x20010db800010000ull);
            u64(o, f.dst6_lo);
            u64(o, 0xfe80000000000000ull);
            u64(o, 1);
        } else {
            u32(o, f.src4);
            u32(o, f.dst4);
            u32(o, 0x0a0000fe);
        }
        u16(o, f.sport);
        u16(o, f.dport);
        u8(o, f.proto);
        u8(o, 0);
        u8(o, f.proto == 6 ? 0x1b : 0);
        u32(o, 1);
        u32(o, 2);
        u32(o, f.bytes);
        u32(o, f.packets);
        u32(o, uptime - 5000);
        u32(o, uptime - 100);
        u16(o, 64500);
        u16(o, 15169);
        u8(o, 24);
        u8(o, 24);
        u8(o, 0);
    }

    std::uint32_t encode_v9(std::vector<std::uint8_t>& o, std::uint32_t secs) {
        const std::uint32_t uptime = uptime_ms(secs);
        u16(o, 9);
        u16(o, 0);
        u32(o, uptime);
        u32(o, secs);
        u32(o, static_cast<std::uint32_t>(packets_));
        u32(o, domain_);
        std::uint32_t count = 0;
        if (packets_ % template_every_ == 0) {
            v9_templates(o);
            count += 2;
        }
        const std::uint32_t n = fill_sets(
            o, [&](std::vector<std::uint8_t>& out, const Flow& f) { v9_record(out, f, uptime); }, 256, 257, 1400);
        put16(o, 2, count + n);
        ++packets_;
        return n;
    }

    // IPFIX: same fields with ms timestamps (152/153); the varlen variant adds applicationName (96, varlen).
    void ipfix_templates(std::vector<std::uint8_t>& o) {
        const std::size_t start = o.size();
        u16(o, 2);
        u16(o, 0);
        const bool varlen = version_ == ExportVersion::ipfix_varlen;
        const std::uint16_t common[][2] = {{7, 2}, {11, 2}, {4, 1},   {5, 1},   {6, 1},  {10, 4}, {14, 4},
                                           {1, 8}, {2, 8},  {152, 8}, {153, 8}, {16, 4}, {17, 4}, {61, 1}};
        for (int v6 = 0; v6 < 2; ++v6) {
            u16(o, v6 ? 257 : 256);
            u16(o, 14 + 2 + (varlen ? 1 : 0));
            u16(o, v6 ? 27 : 8);
            u16(o, v6 ? 16 : 4);
            u16(o, v6 ? 28 : 12);
            u16(o, v6 ? 16 : 4);
            for (auto& f : common) {
                u16(o, f[0]);
                u16(o, f[1]);
            }
            if (varlen) {
                u16(o, 96);
                u16(o, 65535);
            }
        }
        put16(o, start + 2, o.size() - start);
    }

    void ipfix_record(std::vector<std::uint8_t>& o, const Flow& f, std::uint64_t now_ms) {
        if (f.v6) {
            u64(o, 0x20010db800000000ull);
            u64(o, f.src6_lo);
            u64(o, 0x20010db800010000ull);
            u64(o, f.dst6_lo);
        } else {
            u32(o, f.src4);
            u32(o, f.dst4);
        }
        u16(o, f.sport);
        u16(o, f.dport);
        u8(o, f.proto);
        u8(o, 0);
        u8(o, f.proto == 6 ? 0x1b : 0);
        u32(o, 1);
        u32(o, 2);
        u64(o, f.bytes);
        u64(o, f.packets);
        u64(o, now_ms - 5000);
        u64(o, now_ms - 100);
        u32(o, 64500);
        u32(o, 15169);
        u8(o, 0);
        if (version_ == ExportVersion::ipfix_varlen) {
            static constexpr const char* apps[] = {"https", "dns", "ssh", "microsoft-ds", "ms-wbt-server"};
            const char* app = apps[rng_() % 5];
            const auto len = std::char_traits<char>::length(app);
            u8(o, len);
            o.insert(o.end(), app, app + len);
        }
    }

    std::uint32_t encode_ipfix(std::vector<std::uint8_t>& o, std::uint32_t secs) {
        u16(o, 10);
        u16(o, 0);
        u32(o, secs);
        u32(o, static_cast<std::uint32_t>(records_));
        u32(o, domain_);
        if (packets_ % template_every_ == 0) ipfix_templates(o);
        const std::uint64_t now_ms = std::uint64_t{secs} * 1000;
        const std::uint32_t n = fill_sets(
            o, [&](std::vector<std::uint8_t>& out, const Flow& f) { ipfix_record(out, f, now_ms); }, 256, 257, 1400);
        put16(o, 2, o.size());
        ++packets_;
        return n;
    }

    // One data set for IPv4 and one for IPv6 records, until the packet reaches `budget` bytes.
    template <typename Encode>
    std::uint32_t fill_sets(std::vector<std::uint8_t>& o, Encode&& encode, std::uint16_t v4_id, std::uint16_t v6_id,
                            std::size_t budget) {
        std::vector<Flow> flows;
        while (true) {
            flows.push_back(random_flow());
            if (o.size() + flows.size() * 90 + 8 > budget) break;
        }
        std::uint32_t n = 0;
        for (int v6 = 0; v6 < 2; ++v6) {
            const std::size_t start = o.size();
            u16(o, v6 ? v6_id : v4_id);
            u16(o, 0);
            for (const auto& f : flows)
                if (f.v6 == (v6 == 1)) {
                    encode(o, f);
                    ++n;
                }
            if (o.size() - start == 4) {
                o.resize(start);
                continue;
            }
            put16(o, start + 2, o.size() - start);
        }
        records_ += n;
        return n;
    }

    std::uint32_t uptime_ms(std::uint32_t secs) {
        if (boot_secs_ == 0) boot_secs_ = secs - 3600;
        return (secs - boot_secs_) * 1000;
    }

    ExportVersion version_;
    std::mt19937 rng_;
    std::uint32_t domain_;
    std::uint32_t template_every_;
    std::uint64_t records_ = 0;
    std::uint64_t packets_ = 0;
    std::uint32_t boot_secs_ = 0;
};

}  // namespace flowguard::bench
