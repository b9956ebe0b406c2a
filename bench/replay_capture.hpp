#pragma once
// A real exporter's capture, ready to be sent again and again as the exporter would keep sending it: its
// datagrams in capture order, where each one's sequence number sits, and how far each stream's sequence moves
// on per loop, so a collector sees a stream continuing, not duplicates. Shared by replay_bench (decode cost)
// and replay_send (the same captures over UDP to a live collector).
#include <flowguard/collector/flow_decoder.hpp>
#include <flowguard/collector/pcap_datagrams.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <tuple>
#include <vector>

namespace flowguard::bench {

using collector::ExportPacket;
using collector::PcapDatagramReader;

inline std::uint32_t load32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
inline void store32(std::uint8_t* p, std::uint32_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}

// Where the sequence number of a datagram sits: v5 flow_sequence, v9 package sequence, IPFIX sequence, sFlow
// datagram sequence (after the agent address). 0: none found.
inline std::size_t sequence_offset(const std::vector<std::uint8_t>& d) {
    if (d.size() < 24) return 0;
    const std::uint16_t v16 = static_cast<std::uint16_t>(d[0] << 8 | d[1]);
    if (v16 == 5) return 16;
    if (v16 == 9) return 12;
    if (v16 == 10) return 8;
    if (load32(d.data()) == 5) {  // sFlow v5: version, address type, address, sub-agent, sequence
        const std::uint32_t type = load32(d.data() + 4);
        const std::size_t at = type == 2 ? 8 + 16 + 4 : 8 + 4 + 4;
        return at + 4 <= d.size() ? at : 0;
    }
    return 0;
}

struct Datagram {
    std::vector<std::uint8_t> bytes;  // 8 spare bytes first: a typed decode may read 7 before a record
    IpAddress exporter;
    std::uint16_t port = 0;
    std::uint64_t received_ns = 0;
    std::size_t sequence_at = 0;  // within the payload; 0: none
    std::uint32_t sequence = 0;   // as captured
    std::uint32_t step = 0;       // what the stream's sequence moves on by per loop
    std::size_t records = 0;      // flow records it decoded to, templates known
    std::span<const std::uint8_t> payload() const { return {bytes.data() + 8, bytes.size() - 8}; }
};

inline std::vector<Datagram> read_all(const std::string& files) {
    std::vector<Datagram> out;
    std::size_t start = 0;
    while (start <= files.size()) {
        const auto end = std::min(files.find('+', start), files.size());
        PcapDatagramReader reader(files.substr(start, end - start));
        ExportPacket packet;
        std::uint16_t port = 0;
        while (reader.next(packet, port)) {
            Datagram d;
            d.bytes.assign(8, 0);
            d.bytes.insert(d.bytes.end(), packet.payload.begin(), packet.payload.end());
            d.exporter = packet.exporter;
            d.port = packet.exporter_port;
            d.received_ns = packet.received_ns;
            d.sequence_at = sequence_offset(std::vector<std::uint8_t>(d.bytes.begin() + 8, d.bytes.end()));
            if (d.sequence_at != 0) d.sequence = load32(d.bytes.data() + 8 + d.sequence_at);
            out.push_back(std::move(d));
        }
        start = end + 1;
    }
    return out;
}

inline std::uint16_t version_of(const Datagram& d) {
    const auto* h = d.payload().data();
    return load32(h) == 5 ? 5000 : static_cast<std::uint16_t>(h[0] << 8 | h[1]);  // 5000: sFlow v5
}

inline void set_sequence(Datagram& d, std::uint32_t sequence) {
    d.sequence = sequence;
    store32(d.bytes.data() + 8 + d.sequence_at, sequence);
}

// Counts an IPFIX message's data records (options records included: what its sequence number counts),
// learning the stream's templates from its template and options template sets on the way.
class IpfixRecordCounter {
public:
    std::uint32_t count(std::span<const std::uint8_t> message) {
        std::uint32_t records = 0;
        std::size_t at = 16;
        while (at + 4 <= message.size()) {
            const std::uint16_t id = load16(&message[at]);
            const std::size_t length = load16(&message[at + 2]);
            if (length < 4 || at + length > message.size()) break;
            const auto set = message.subspan(at + 4, length - 4);
            if (id == 2 || id == 3) learn(set, id == 3);
            if (id >= 256) records += records_in(id, set);
            at += length;
        }
        return records;
    }

private:
    static std::uint16_t load16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

    // Per template: its fields' lengths (65535: variable).
    void learn(std::span<const std::uint8_t> set, bool options) {
        std::size_t at = 0;
        while (at + 4 <= set.size()) {
            const std::uint16_t id = load16(&set[at]);
            const std::uint16_t fields = load16(&set[at + 2]);
            at += options ? 6 : 4;
            if (id < 256) break;  // padding
            std::vector<std::uint16_t> lengths;
            for (std::uint16_t f = 0; f < fields && at + 4 <= set.size(); ++f) {
                const bool enterprise = (set[at] & 0x80) != 0;
                lengths.push_back(load16(&set[at + 2]));
                at += enterprise ? 8 : 4;
            }
            if (fields == 0)
                templates_.erase(id);  // a withdrawal
            else
                templates_[id] = std::move(lengths);
        }
    }

    std::uint32_t records_in(std::uint16_t id, std::span<const std::uint8_t> set) const {
        const auto found = templates_.find(id);
        if (found == templates_.end()) return 0;
        std::uint32_t records = 0;
        std::size_t at = 0;
        for (;;) {
            std::size_t end = at;
            for (const auto length : found->second) {
                if (length != 65535) {
                    end += length;
                    continue;
                }
                if (end >= set.size()) return records;
                std::size_t n = set[end];
                end += 1;
                if (n == 255) {
                    if (end + 2 > set.size()) return records;
                    n = load16(&set[end]);
                    end += 2;
                }
                end += n;
            }
            if (end == at || end > set.size()) return records;  // what is left is padding
            ++records;
            at = end;
        }
    }

    std::map<std::uint16_t, std::vector<std::uint16_t>> templates_;
};

// What one loop of `list` (one stream's datagrams in capture order) adds to its sequence. The datagrams are
// renumbered by what each adds - an export packet in v9 (RFC 3954) and a datagram in sFlow v5, the flows of
// its header in v5, its data records in IPFIX (RFC 7011, options records included) - so the stream is
// continuous, without the gaps or disorder of the capture (a template file and a data file captured apart,
// a sample of a router's export): a collector's losses are then its own.
inline void set_steps(std::vector<Datagram*>& list) {
    const auto version = version_of(*list.front());
    IpfixRecordCounter ipfix;
    if (version == 10)  // templates learnt first: from the second loop on, a collector knows them all
        for (auto* d : list) ipfix.count(d->payload());
    const std::uint32_t first = list.front()->sequence;
    std::uint32_t next = first;
    for (auto* d : list) {
        set_sequence(*d, next);
        const auto* p = d->payload().data();
        if (version == 10)
            next += ipfix.count(d->payload());
        else if (version == 5)
            next += static_cast<std::uint16_t>(p[2] << 8 | p[3]);
        else
            next += 1;
    }
    for (auto* d : list) d->step = next - first;
}

// Sets every datagram's step (and continuous numbers where the unit is known), stream by stream: exporter,
// port, version, observation domain / source id.
inline void assign_steps(const std::vector<Datagram*>& datagrams) {
    std::map<std::tuple<IpAddress, std::uint16_t, std::uint16_t, std::uint32_t>, std::vector<Datagram*>> streams;
    for (auto* d : datagrams) {
        if (d->sequence_at == 0) continue;
        const auto version = version_of(*d);
        const auto* p = d->payload().data();
        const std::uint32_t domain = version == 9 ? load32(p + 16) : version == 10 ? load32(p + 12) : 0;
        streams[{d->exporter, d->port, version, domain}].push_back(d);
    }
    for (auto& [key, list] : streams) set_steps(list);
}

// Decodes the capture twice with `decoder`: as first sent (returned: each datagram's records, data ahead of
// its template counting none), then with the templates known and each sequence far on (not a duplicate),
// which sets each datagram's `records` - what it decodes to on every later loop.
inline std::vector<std::size_t> count_records(std::vector<Datagram>& datagrams, collector::FlowDecoder& decoder) {
    std::vector<std::size_t> first;
    std::vector<FlowRecord> out;
    for (const auto& d : datagrams) {
        out.clear();
        decoder.decode({d.payload(), d.exporter, d.port, d.received_ns}, out);
        first.push_back(out.size());
    }
    for (auto& d : datagrams) {
        std::vector<std::uint8_t> copy = d.bytes;
        if (d.sequence_at != 0) store32(copy.data() + 8 + d.sequence_at, d.sequence + (1u << 19));
        out.clear();
        decoder.decode({{copy.data() + 8, copy.size() - 8}, d.exporter, d.port, d.received_ns}, out);
        d.records = out.size();
    }
    return first;
}

}  // namespace flowguard::bench
