#pragma once
// The whole configuration file: one section per module, each read and printed by the module that owns it
// (collector/config.hpp, analyzer/config.hpp, pipeline/config.hpp, exporters/config.hpp), plus core's `log:`
// and the daemon's `privileges:` (privileges.hpp).
#include "privileges.hpp"

#include <flowguard/analyzer/config.hpp>
#include <flowguard/collector/config.hpp>
#include <flowguard/core/config.hpp>
#include <flowguard/core/logging.hpp>
#include <flowguard/exporters/config.hpp>
#include <flowguard/pipeline/config.hpp>

#include <filesystem>
#include <string>
#include <string_view>

namespace flowguard {

struct Config {
    CollectorConfig collector;
    MeterConfig meter;
    AnalyzerConfig analyzer;
    PipelineConfig pipeline;
    OutputConfig output;
    LogConfig log;
    MetricsConfig metrics;
    AlertsConfig alerts;
    ArchiveConfig archive;
    ClickHouseConfig clickhouse;
    PrivilegeConfig privileges;
};

Config parse_config(std::string_view yaml_text);  // throws ConfigError naming the key
// A configuration file: at most kMaxConfigBytes, not a directory. Throws ConfigError naming the key and the
// file (or why the file cannot be read).
inline constexpr std::size_t kMaxConfigBytes = 4u << 20;
Config load_config_file(const std::filesystem::path& path);
std::string to_yaml(const Config& config);  // the effective configuration
// What `run` reads at start besides the configuration: the indicator lists (parsed, as SIGHUP would), the
// metrics TLS files and the webhooks' CA files (readable). Throws ConfigError naming the key and the reason,
// so check-config refuses what run would, and run refuses it with exit code 2 before opening anything.
void check_config_files(const Config& config);

}  // namespace flowguard
