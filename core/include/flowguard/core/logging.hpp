#pragma once
// flowguard's logs: stderr (stdout carries records or alerts), readable text on a terminal and JSON lines
// otherwise (journald, containers, log shippers), or as the `log:` section says.
#include <flowguard/core/config.hpp>

#include <yaml-cpp/yaml.h>

#include <string>

namespace flowguard {

struct LogConfig {
    std::string level = "info";   // trace | debug | info | warn | error | off
    std::string format = "auto";  // auto (text on a terminal, JSON lines otherwise) | text | json
};

void read_log_config(const YAML::Node& node, LogConfig& out);  // throws ConfigError naming the key
void write_log_config(YAML::Emitter& out, const LogConfig& l);

// Makes the default spdlog logger "flowguard" on stderr, at `level`, in `format` (auto, text, json).
void setup_logging(const std::string& level, const std::string& format);

}  // namespace flowguard
