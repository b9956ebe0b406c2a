// Decode cost per record on real exporters' exports, not on the benchmark's own packets: each capture (its
// template and data files together) is read once, decoded once so the templates are known, then decoded again
// and again as a live exporter would keep sending it - every loop moves each stream's sequence numbers on by
// what one loop spans, so the sequence tracker sees a stream continuing, not duplicates. Prints, per capture,
// the template shapes it uses and the CPU nanoseconds per decoded record.
//
//   replay_bench [--seconds 2] NAME=FILE[+FILE...] ...
#include <flowguard/collector/flow_decoder.hpp>
#include <flowguard/collector/pcap_datagrams.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <vector>

using namespace flowguard;
using namespace flowguard::collector;

namespace {

double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::uint32_t load32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
void store32(std::uint8_t* p, std::uint32_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}

// Where the sequence number of a datagram sits: v5 flow_sequence, v9 package sequence, IPFIX sequence, sFlow
// datagram sequence (after the agent address). 0: none found.
std::size_t sequence_offset(const std::vector<std::uint8_t>& d) {
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

std::vector<Datagram> read_all(const std::string& files) {
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

// How far a stream's sequence moves on over one loop of `list` (its datagrams in capture order): the span
// it covers plus what its last datagram adds - one datagram (v9 counting packets, sFlow), or its records
// (v5's header count, IPFIX's data records).
void set_steps(std::vector<Datagram*>& list) {
    const Datagram& first = *list.front();
    const Datagram& last = *list.back();
    const auto* h = last.payload().data();
    const std::uint16_t version = static_cast<std::uint16_t>(h[0] << 8 | h[1]);
    bool counts_packets = version == 9 || load32(h) == 5;
    for (std::size_t i = 1; i < list.size() && version == 9; ++i)
        counts_packets = counts_packets && list[i]->sequence - list[i - 1]->sequence == 1;
    std::uint32_t last_adds = 1;
    if (version == 5) last_adds = static_cast<std::uint16_t>(h[2] << 8 | h[3]);
    if (version == 10 || (version == 9 && !counts_packets)) last_adds = static_cast<std::uint32_t>(last.records);
    const std::uint32_t step = last.sequence - first.sequence + last_adds;
    for (auto* d : list) d->step = step;
}

struct Result {
    double ns_per_record = 0;
    double records_per_loop = 0;
    DecoderTotals totals;
};

// Decodes `datagrams` over and over for `seconds` of CPU, each loop's sequence numbers moved on, after one
// pass over the whole capture (`warm_up`) so its templates are known.
Result run(const std::vector<Datagram*>& warm_up, const std::vector<Datagram*>& datagrams, double seconds) {
    std::map<std::tuple<IpAddress, std::uint16_t, std::uint8_t>, std::vector<Datagram*>> streams;
    for (auto* d : datagrams)
        if (d->sequence_at != 0) streams[{d->exporter, d->port, d->payload()[1]}].push_back(d);
    for (auto& [key, list] : streams) set_steps(list);
    FlowDecoder decoder{CollectorConfig{}};
    std::vector<FlowRecord> out;
    for (auto* d : warm_up) decoder.decode({d->payload(), d->exporter, d->port, d->received_ns}, out);
    const auto before = decoder.totals();
    std::uint64_t records = 0, loops = 0;
    const double start = cpu_seconds();
    double now = start;
    // The CPU clock is a system call: read it once per 4,096 datagrams or so, not per loop of a tiny capture.
    const std::size_t loops_per_check = std::max<std::size_t>(4096 / std::max<std::size_t>(datagrams.size(), 1), 1);
    do {
        for (std::size_t k = 0; k < loops_per_check; ++k) {
            ++loops;
            for (auto* d : datagrams) {
                if (d->sequence_at != 0)
                    store32(d->bytes.data() + 8 + d->sequence_at,
                            d->sequence + static_cast<std::uint32_t>(loops) * d->step);
                out.clear();
                decoder.decode({d->payload(), d->exporter, d->port, d->received_ns}, out);
                records += out.size();
            }
        }
        now = cpu_seconds();
    } while (now - start < seconds);
    Result r;
    r.ns_per_record = records ? (now - start) * 1e9 / static_cast<double>(records) : 0.0;
    r.records_per_loop = static_cast<double>(records) / static_cast<double>(loops);
    r.totals = decoder.totals();
    r.totals.sequence_lost -= before.sequence_lost;
    r.totals.sequence_reordered -= before.sequence_reordered;
    r.totals.sequence_duplicate -= before.sequence_duplicate;
    return r;
}

std::string template_shapes(std::vector<Datagram>& datagrams) {
    FlowDecoder decoder{CollectorConfig{}};
    std::vector<FlowRecord> out;
    for (auto& d : datagrams) {
        out.clear();
        decoder.decode({d.payload(), d.exporter, d.port, d.received_ns}, out);
    }
    // A second pass with the templates known: what each datagram decodes to in steady state (its sequence
    // moved on, or the decoder would take it for a duplicate).
    for (auto& d : datagrams) {
        std::vector<std::uint8_t> copy = d.bytes;
        if (d.sequence_at != 0) store32(copy.data() + 8 + d.sequence_at, d.sequence + (1u << 19));
        out.clear();
        decoder.decode({{copy.data() + 8, copy.size() - 8}, d.exporter, d.port, d.received_ns}, out);
        d.records = out.size();
    }
    std::set<std::string> shapes;
    decoder.for_each_template([&](const TemplateSnapshot& t) {
        std::size_t bytes = 0;
        bool variable = false;
        for (const auto& f : t.fields) {
            variable = variable || f.length == kVariableLength;
            bytes += f.length == kVariableLength ? 0 : f.length;
        }
        shapes.insert(fmt::format("{}{} {}f/{}{}B", t.options ? "opt " : "", t.stream.version == 10 ? "ipfix" : "v9",
                                  t.fields.size(), variable ? ">=" : "", bytes));
    });
    std::string list;
    for (const auto& s : shapes) list += (list.empty() ? "" : ", ") + s;
    return list.empty() ? "-" : list;
}

void replay(const std::string& name, const std::string& files, double seconds) {
    auto datagrams = read_all(files);
    const std::string shapes = template_shapes(datagrams);
    std::vector<Datagram*> all, data;
    for (auto& d : datagrams) {
        all.push_back(&d);
        if (d.records > 0) data.push_back(&d);
    }
    const Result with_templates = run(all, all, seconds / 2);
    const Result data_only = run(all, data, seconds / 2);
    const auto& t = data_only.totals;
    fmt::print("| {} | {} | {:.0f} | {} | {:.1f} | {:.1f} | {} / {} / {} |\n", name, datagrams.size(),
               data_only.records_per_loop, shapes, data_only.ns_per_record, with_templates.ns_per_record,
               t.sequence_lost, t.sequence_reordered, t.sequence_duplicate);
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 2;
    std::vector<std::pair<std::string, std::string>> inputs;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--seconds" && i + 1 < argc) {
            seconds = std::strtod(argv[++i], nullptr);
            continue;
        }
        const auto eq = a.find('=');
        if (eq == std::string::npos) {
            fmt::print(stderr, "usage: replay_bench [--seconds S] NAME=FILE[+FILE...] ...\n");
            return 2;
        }
        inputs.emplace_back(a.substr(0, eq), a.substr(eq + 1));
    }
    fmt::print(
        "| capture | datagrams | records per loop | templates (fields/bytes) | ns CPU / record, data datagrams | "
        "ns / record, as captured (templates too) | sequence lost / reordered / duplicate (data only) |\n");
    fmt::print("|---|---|---|---|---|---|---|\n");
    for (const auto& [name, files] : inputs) {
        try {
            replay(name, files, seconds);
        } catch (const std::exception& e) {
            fmt::print(stderr, "{}: {}\n", name, e.what());
            return 1;
        }
    }
    return 0;
}
