// libFuzzer target: any bytes as a configuration file. parse_config may refuse them only with ConfigError
// (the command line turns it into "config error" and exit code 2); anything else escaping is a crash here,
// as it would be for `flowguard -c FILE`. An accepted configuration must print and read back the same.
#include "../app/src/config.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    flowguard::Config config;
    try {
        config = flowguard::parse_config(text);
    } catch (const flowguard::ConfigError&) {
        return 0;
    }
    const auto printed = flowguard::to_yaml(config);
    if (flowguard::to_yaml(flowguard::parse_config(printed)) != printed) __builtin_trap();  // check-config's output
    return 0;
}
