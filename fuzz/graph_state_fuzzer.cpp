// libFuzzer target: any bytes as a saved lateral-movement graph (analyzer.lateral.state_file, `analyze
// --baseline`): loaded into a small graph; a broken file may only be refused with an exception naming the
// line. The loaded graph must stay within its caps and save again.
#include <flowguard/analyzer/host_graph.hpp>

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace flowguard;
    analyzer::LateralConfig config;
    config.max_hosts = 64;
    config.max_edges = 256;
    const NetworkSet watched;
    analyzer::HostGraph graph(config, watched);
    std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
    try {
        graph.load(in, "fuzz");
    } catch (const std::exception&) {
        return 0;
    }
    if (graph.host_count() > 64 || graph.edge_count() > 256) __builtin_trap();
    std::ostringstream out;
    graph.save(out);
    return 0;
}
