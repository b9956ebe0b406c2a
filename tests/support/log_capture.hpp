#pragma once
// Records what spdlog's default logger writes while it lives, for tests that check what was logged (the
// binary must link spdlog::spdlog: its compiled library holds the one registry).
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <sstream>
#include <string>

namespace flowguard::test {

struct LogCapture {
    LogCapture() : sink(std::make_shared<spdlog::sinks::ostream_sink_mt>(text)), previous(spdlog::default_logger()) {
        spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
    }
    ~LogCapture() { spdlog::set_default_logger(previous); }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;
    std::string str() const { return text.str(); }

    std::ostringstream text;
    std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink;
    std::shared_ptr<spdlog::logger> previous;
};

}  // namespace flowguard::test
