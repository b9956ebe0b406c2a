#pragma once
// Builds NetFlow v5 / v9 / IPFIX packets byte by byte for decoder tests, so each test states exactly
// what is on the wire.
#include <flowguard/collector/export_packet.hpp>

#include <cstdint>
#include <initializer_list>
#include <utility>
#include <vector>

namespace flowguard::test {

class Bytes {
public:
    Bytes& u8(std::uint64_t v) {
        data_.push_back(static_cast<std::uint8_t>(v));
        return *this;
    }
    Bytes& u16(std::uint64_t v) { return u8(v >> 8).u8(v); }
    Bytes& u32(std::uint64_t v) { return u16(v >> 16).u16(v); }
    Bytes& u64(std::uint64_t v) { return u32(v >> 32).u32(v); }
    Bytes& ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) { return u8(a).u8(b).u8(c).u8(d); }
    Bytes& raw(const std::vector<std::uint8_t>& v) {
        for (auto b : v) data_.push_back(b);  // (an insert() here trips GCC 12's -Wstringop-overread at -O3)
        return *this;
    }
    Bytes& zeros(std::size_t n) {
        data_.insert(data_.end(), n, 0);
        return *this;
    }
    void put16(std::size_t at, std::uint16_t v) {
        data_[at] = static_cast<std::uint8_t>(v >> 8);
        data_[at + 1] = static_cast<std::uint8_t>(v);
    }
    std::size_t size() const { return data_.size(); }
    const std::vector<std::uint8_t>& data() const { return data_; }
    std::vector<std::uint8_t>& data() { return data_; }

private:
    std::vector<std::uint8_t> data_;
};

using Field = std::pair<std::uint16_t, std::uint16_t>;  // (element id, length)

// A v9 / IPFIX set: id, length, body (padded to 4 bytes when asked).
inline Bytes set(std::uint16_t id, const Bytes& body, bool pad = false) {
    Bytes b;
    std::size_t len = 4 + body.size();
    const std::size_t padding = pad ? (4 - len % 4) % 4 : 0;
    b.u16(id).u16(len + padding).raw(body.data()).zeros(padding);
    return b;
}

inline Bytes template_record(std::uint16_t id, std::initializer_list<Field> fields) {
    Bytes b;
    b.u16(id).u16(fields.size());
    for (auto [fid, len] : fields) b.u16(fid).u16(len);
    return b;
}

inline Bytes v9_header(std::uint16_t count, std::uint32_t uptime_ms, std::uint32_t unix_secs, std::uint32_t sequence,
                       std::uint32_t source_id) {
    Bytes b;
    b.u16(9).u16(count).u32(uptime_ms).u32(unix_secs).u32(sequence).u32(source_id);
    return b;
}

inline Bytes ipfix_message(std::uint32_t export_secs, std::uint32_t sequence, std::uint32_t domain,
                           std::initializer_list<Bytes> sets) {
    Bytes b;
    b.u16(10).u16(0).u32(export_secs).u32(sequence).u32(domain);
    for (const auto& s : sets) b.raw(s.data());
    b.put16(2, static_cast<std::uint16_t>(b.size()));
    return b;
}

inline Bytes v9_packet(Bytes header, std::initializer_list<Bytes> sets) {
    for (const auto& s : sets) header.raw(s.data());
    return header;
}

inline collector::ExportPacket packet_of(const Bytes& b, std::uint64_t received_ns = 1'700'000'000'000'000'000ull,
                                         std::uint16_t port = 40000) {
    collector::ExportPacket p;
    p.payload = b.data();
    p.exporter = IpAddress::from_v4(0xc0000201);  // 192.0.2.1
    p.exporter_port = port;
    p.received_ns = received_ns;
    return p;
}

}  // namespace flowguard::test
