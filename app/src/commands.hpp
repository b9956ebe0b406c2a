#pragma once
#include <flowguard/core/config.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace flowguard::app {

struct DecodeOptions {
    std::string format = "json";
    std::optional<std::uint16_t> port;  // only datagrams to this UDP port
    std::vector<std::string> captures;
};

struct CollectOptions {
    std::vector<std::string> listen;  // overrides collector.listen when given
    std::optional<std::string> output;
    std::optional<std::string> format;
    std::optional<std::string> state_file;
};

struct SunburstOptions {
    std::vector<std::string> names;  // empty: one name per line on stdin
};

// Each returns the process exit code.
int run_decode(const Config& config, const DecodeOptions& options);
int run_collect(Config config, const CollectOptions& options);
int run_sunburst(const SunburstOptions& options);

}  // namespace flowguard::app
