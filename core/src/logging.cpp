#include <flowguard/core/logging.hpp>

#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <string_view>

namespace flowguard {
namespace {

// %j: the log message as a JSON string body (quotes, backslashes and control characters escaped).
class JsonMessageFlag : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        static constexpr char hex[] = "0123456789abcdef";
        for (const char c : std::string_view(msg.payload.data(), msg.payload.size())) {
            const auto u = static_cast<unsigned char>(c);
            if (c == '"' || c == '\\') {
                dest.push_back('\\');
                dest.push_back(c);
            } else if (u < 0x20) {
                const char esc[] = {'\\', 'u', '0', '0', hex[u >> 4], hex[u & 15]};
                dest.append(esc, esc + sizeof esc);
            } else {
                dest.push_back(c);
            }
        }
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessageFlag>(); }
};

// Logs go to stderr (stdout carries records or alerts): readable text on a terminal, JSON lines otherwise
// (journald, containers, log shippers), or as log.format says.
}  // namespace

void setup_logging(const std::string& level, const std::string& format) {
    auto logger = spdlog::stderr_color_mt("flowguard");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(level));
    const bool json = format == "json" || (format == "auto" && !::isatty(STDERR_FILENO));
    if (json) {
        auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
        formatter->add_flag<JsonMessageFlag>('j').set_pattern(
            R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"%n","message":"%j"})");
        spdlog::set_formatter(std::move(formatter));
    }
}

void read_log_config(const YAML::Node& n, LogConfig& l) {
    yaml::require_known_keys(n, "log", {"level", "format"});
    if (n["format"]) {
        l.format = yaml::scalar(n["format"], "log.format");
        if (l.format != "auto" && l.format != "text" && l.format != "json")
            throw ConfigError("log.format", fmt::format("'{}' is not one of auto, text, json", l.format));
    }
    if (n["level"]) {
        l.level = yaml::scalar(n["level"], "log.level");
        static constexpr std::string_view levels[] = {"trace", "debug", "info", "warn", "error", "off"};
        if (std::find(std::begin(levels), std::end(levels), l.level) == std::end(levels))
            throw ConfigError("log.level",
                              fmt::format("'{}' is not one of trace, debug, info, warn, error, off", l.level));
    }
}

void write_log_config(YAML::Emitter& out, const LogConfig& l) {
    out << YAML::BeginMap << YAML::Key << "level" << YAML::Value << l.level << YAML::Key << "format" << YAML::Value
        << l.format << YAML::EndMap;
}

}  // namespace flowguard
