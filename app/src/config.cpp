#include "config.hpp"

#include <flowguard/analyzer/lists.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace flowguard {
namespace {

// Each section of the file, with its owner's reader and writer, in the order check-config prints them.
struct Section {
    std::string_view name;
    void (*read)(const YAML::Node&, Config&);
    void (*write)(YAML::Emitter&, const Config&);
};

template <auto Member, auto Read, auto Write>
constexpr Section section(std::string_view name) {
    return {name, [](const YAML::Node& n, Config& c) { Read(n, c.*Member); },
            [](YAML::Emitter& out, const Config& c) { Write(out, c.*Member); }};
}

constexpr Section kSections[] = {
    section<&Config::collector, read_collector_config, write_collector_config>("collector"),
    section<&Config::meter, read_meter_config, write_meter_config>("meter"),
    section<&Config::analyzer, read_analyzer_config, write_analyzer_config>("analyzer"),
    section<&Config::pipeline, read_pipeline_config, write_pipeline_config>("pipeline"),
    section<&Config::output, read_output_config, write_output_config>("output"),
    section<&Config::log, read_log_config, write_log_config>("log"),
    section<&Config::metrics, read_metrics_config, write_metrics_config>("metrics"),
    section<&Config::alerts, read_alerts_config, write_alerts_config>("alerts"),
    section<&Config::archive, read_archive_config, write_archive_config>("archive"),
    section<&Config::clickhouse, read_clickhouse_config, write_clickhouse_config>("clickhouse"),
    section<&Config::privileges, read_privilege_config, write_privilege_config>("privileges"),
};

}  // namespace

Config parse_config(std::string_view yaml_text) {
    YAML::Node root;
    try {
        root = YAML::Load(std::string(yaml_text));
    } catch (const YAML::Exception& e) {
        throw ConfigError("", fmt::format("not valid YAML: {}", e.what()));
    }
    Config config;
    if (root.IsNull()) return config;
    try {
        yaml::require_unique_keys(root, "");
        yaml::require_known_keys(root, "",
                                 {"collector", "meter", "analyzer", "pipeline", "output", "log", "metrics", "alerts",
                                  "archive", "clickhouse", "privileges"});
        for (const auto& s : kSections)
            if (const auto node = root[std::string(s.name)]) s.read(node, config);
    } catch (const YAML::Exception& e) {
        // The readers check types where they read; a conversion yaml-cpp still refuses (found by fuzzing: a key
        // that is a list) is a configuration error too, never an escaped exception.
        throw ConfigError("", fmt::format("unexpected YAML structure: {}", e.what()));
    }
    return config;
}

Config load_config_file(const std::filesystem::path& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw ConfigError("", fmt::format("'{}' is a directory, not a configuration file", path.string()));
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw ConfigError("", fmt::format("cannot read config file '{}': {}", path.string(), std::strerror(errno)));
    // Bounded: a configuration is a few KiB; /dev/zero or a wrong file must not take the memory.
    std::string text;
    std::array<char, 65536> chunk{};
    while (in.read(chunk.data(), chunk.size()) || in.gcount() > 0) {
        text.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
        if (text.size() > kMaxConfigBytes)
            throw ConfigError("",
                              fmt::format("config file '{}' is larger than {} bytes", path.string(), kMaxConfigBytes));
    }
    if (in.bad())
        throw ConfigError("", fmt::format("cannot read config file '{}': {}", path.string(), std::strerror(errno)));
    try {
        return parse_config(text);
    } catch (const ConfigError& e) {
        throw ConfigError(e.key(), fmt::format("{} (in {})", e.problem(), path.string()));
    }
}

namespace {

void check_readable(const std::string& path, const std::string& key) {
    if (path.empty()) return;
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ConfigError(key, fmt::format("cannot read '{}': {}", path, std::strerror(errno)));
}

}  // namespace

void check_config_files(const Config& config) {
    try {
        analyzer::load_lists(config.analyzer);
    } catch (const std::exception& e) {
        throw ConfigError("analyzer.ioc_files", e.what());
    }
    check_readable(config.metrics.tls_cert_file, "metrics.tls_cert_file");
    check_readable(config.metrics.tls_key_file, "metrics.tls_key_file");
    for (std::size_t i = 0; i < config.alerts.webhooks.size(); ++i)
        check_readable(config.alerts.webhooks[i].ca_file, fmt::format("alerts.webhooks[{}].ca_file", i));
    check_readable(config.clickhouse.ca_file, "clickhouse.ca_file");
}

std::string to_yaml(const Config& config) {
    YAML::Emitter out;
    out.SetDoublePrecision(6);
    out << YAML::BeginMap;
    for (const auto& s : kSections) {
        out << YAML::Key << std::string(s.name) << YAML::Value;
        s.write(out, config);
    }
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

}  // namespace flowguard
