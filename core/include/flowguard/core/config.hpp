#pragma once
// What every module's configuration section is made of: errors that name the key ("collector.listen[1]:
// ..."), listen endpoints, durations and sizes, and the YAML helpers each module reads its section with.
// Each module owns its section (collector/config.hpp, analyzer/config.hpp, exporters/config.hpp,
// pipeline/config.hpp); the command wiring assembles the whole file. Every key has a default, so an empty
// document (or no file at all) is a working configuration.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flowguard {

class ConfigError : public std::runtime_error {
public:
    ConfigError(std::string key, std::string problem)
        : std::runtime_error(key.empty() ? problem : key + ": " + problem),
          key_(std::move(key)),
          problem_(std::move(problem)) {}
    const std::string& key() const noexcept { return key_; }
    const std::string& problem() const noexcept { return problem_; }

private:
    std::string key_;
    std::string problem_;
};

// A UDP listen address written as "udp://ADDR:PORT", "ADDR:PORT", "[V6]:PORT" or ":PORT".
struct ListenEndpoint {
    std::string address;  // numeric address; "0.0.0.0" or "::" for any
    std::uint16_t port = 0;

    static ListenEndpoint parse(std::string_view text);  // throws ConfigError with an empty key
    std::string to_string() const;                       // "udp://ADDR:PORT"
    friend bool operator==(const ListenEndpoint&, const ListenEndpoint&) = default;
};

// "30s", "5m", "2h", "7d", "250ms" or a plain number of seconds.
std::uint64_t parse_duration_ns(std::string_view text);  // throws ConfigError with an empty key
// A timeout: as above, and 0 is refused ("must be longer than 0").
std::uint64_t parse_timeout_ns(std::string_view text);
// "8MiB", "512KiB", "1GiB", "65536" (bytes).
std::size_t parse_size_bytes(std::string_view text);  // throws ConfigError with an empty key

// Reading one section. Every function throws ConfigError naming `key`.
namespace yaml {

std::string child_key(const std::string& parent, std::string_view name);
// Rejects keys it does not know, so a typo is an error instead of a silently ignored setting.
void require_known_keys(const YAML::Node& map, const std::string& where, std::initializer_list<std::string_view> known);
// A key given twice anywhere below `node` (yaml-cpp keeps both; lookups see the first) is an error.
void require_unique_keys(const YAML::Node& node, const std::string& where);
std::string scalar(const YAML::Node& node, const std::string& key);
std::uint64_t unsigned_value(const YAML::Node& node, const std::string& key, std::uint64_t max);
bool boolean_value(const YAML::Node& node, const std::string& key);
double unit_value(const YAML::Node& node, const std::string& key);  // 0..1
std::vector<std::string> string_list(const YAML::Node& node, const std::string& key);
std::uint64_t duration_value(const YAML::Node& node, const std::string& key);
std::size_t size_value(const YAML::Node& node, const std::string& key);

// Runs `parse`; a ConfigError it throws without a key gets `key`.
template <typename Parse>
auto with_key(const std::string& key, Parse&& parse) {
    try {
        return parse();
    } catch (const ConfigError& e) {
        if (!e.key().empty()) throw;
        throw ConfigError(key, e.problem());
    }
}

// Durations as the effective configuration prints them.
std::string milliseconds(std::uint64_t ns);  // "15000ms"
std::string seconds(std::uint64_t ns);       // "60s"

}  // namespace yaml
}  // namespace flowguard
