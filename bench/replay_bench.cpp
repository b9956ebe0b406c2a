// Decode cost per record on real exporters' exports, not on the benchmark's own packets: each capture (its
// template and data files together) is read once, decoded once so the templates are known, then decoded again
// and again as a live exporter would keep sending it - every loop moves each stream's sequence numbers on by
// what one loop spans, so the sequence tracker sees a stream continuing, not duplicates. Prints, per capture,
// the template shapes it uses and the CPU nanoseconds per decoded record.
//
//   replay_bench [--seconds 2] NAME=FILE[+FILE...] ...
#include "process_probes.hpp"
#include "replay_capture.hpp"

#include <flowguard/collector/flow_decoder.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <set>
#include <span>
#include <string>
#include <vector>

using namespace flowguard;
using namespace flowguard::collector;
using namespace flowguard::bench;

namespace {

struct Result {
    double ns_per_record = 0;
    double records_per_loop = 0;
    DecoderTotals totals;
};

// Decodes `datagrams` over and over for `seconds` of CPU, each loop's sequence numbers moved on, after one
// pass over the whole capture (`warm_up`) so its templates are known.
Result run(const std::vector<Datagram*>& warm_up, const std::vector<Datagram*>& datagrams, double seconds) {
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
    count_records(datagrams, decoder);  // sets each datagram's steady-state records
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
    std::vector<Datagram*> all, data;
    for (auto& d : datagrams) all.push_back(&d);
    assign_steps(all);  // on the whole capture: a loop of its data datagrams alone moves the streams as far
    const std::string shapes = template_shapes(datagrams);
    for (auto& d : datagrams)
        if (d.records > 0) data.push_back(&d);
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
