// filter_bench: what matching one flow against a filter costs, apart from reading the archive. The first
// flows of an archive (bench/archivegen's, or any) are read into memory once; each filter then runs over a
// window of them small enough to stay in the CPU's cache, round after round, and the CPU time per flow is
// printed. bench/query-speed.sh measures the whole scan (reading, decompressing, parsing, matching).
//
//   filter_bench --archive DIR [--window 2000] [--rounds 2000] FILTER...
#include <flowguard/exporters/archive_scan.hpp>
#include <flowguard/exporters/flow_filter.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <ctime>
#include <span>
#include <string>
#include <vector>

namespace {

using namespace flowguard;

double cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

std::vector<FlowRecord> first_flows(const std::string& archive, std::size_t count) {
    std::vector<FlowRecord> flows;
    exporters::ArchiveScan scan({archive}, exporters::ScanWindow{}, exporters::FlowFilter{});
    scan.run(
        [&](std::span<const FlowRecord> block) {
            const std::size_t take = std::min(block.size(), count - flows.size());
            flows.insert(flows.end(), block.begin(), block.begin() + static_cast<std::ptrdiff_t>(take));
        },
        {}, [&] { return flows.size() >= count; }, 1);
    return flows;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{"CPU per flow of matching a filter, flows in cache"};
    std::string archive;
    std::size_t window = 2000;
    std::size_t rounds = 2000;
    std::vector<std::string> filters;
    cli.add_option("--archive", archive, "archive directory or file to take flows from")->required();
    cli.add_option("--window", window, "flows matched per round (kept in cache)");
    cli.add_option("--rounds", rounds, "rounds over the window");
    cli.add_option("filters", filters, "filters in nfdump's language")->required();
    CLI11_PARSE(cli, argc, argv);

    const auto flows = first_flows(archive, window);
    if (flows.empty()) {
        std::fprintf(stderr, "filter_bench: no flows in %s\n", archive.c_str());
        return 1;
    }
    std::printf("%zu flows, %zu rounds\n", flows.size(), rounds);
    for (const auto& text : filters) {
        const auto filter = exporters::FlowFilter::compile(text);
        std::size_t matched = 0;
        const double start = cpu_seconds();
        for (std::size_t round = 0; round < rounds; ++round)
            for (const auto& f : flows) matched += filter.matches(f);
        const double spent = cpu_seconds() - start;
        const double evaluations = static_cast<double>(rounds) * static_cast<double>(flows.size());
        std::printf("%7.2f ns/flow  %5.1f %% matched  %s\n", spent * 1e9 / evaluations,
                    100.0 * static_cast<double>(matched) / evaluations, text.c_str());
    }
    return 0;
}
