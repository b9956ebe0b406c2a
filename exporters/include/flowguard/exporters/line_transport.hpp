#pragma once
// Where text lines go: the transport half of an output (format x transport, as goflow2 splits them). The
// flow output, the DNS log and the alert log each pair a format with one of these, chosen by its target
// ("-" for stdout, a file path; later syslog:// and kafka://).
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace flowguard::exporters {

class LineTransport {
public:
    virtual ~LineTransport() = default;
    virtual const std::string& target() const = 0;
    // Whole lines, written in one piece: several writers (one per shard) may share a transport, and one call's
    // lines never interleave with another's. False when the write failed (a closed pipe, a full disk).
    virtual bool write(std::string_view lines) = 0;
    virtual bool failed() const = 0;
};

// A file descriptor: stdout, or a file opened for appending (restarting must not erase what an earlier run
// wrote). One write(2) per call, under a mutex taken per buffer (~64 KiB), never per line.
class FdTransport final : public LineTransport {
public:
    FdTransport(int fd, std::string target, bool owned);
    ~FdTransport() override;
    FdTransport(const FdTransport&) = delete;
    FdTransport& operator=(const FdTransport&) = delete;

    const std::string& target() const override { return target_; }
    bool write(std::string_view lines) override;
    bool failed() const override { return failed_.load(std::memory_order_relaxed); }

private:
    int fd_;
    std::string target_;
    bool owned_;
    std::mutex mutex_;
    std::atomic<bool> failed_{false};
};

// "-" is stdout; anything else a file path, created if missing and appended to. Throws std::runtime_error
// naming the target and the reason when it cannot be opened.
std::unique_ptr<LineTransport> open_line_transport(const std::string& target);

}  // namespace flowguard::exporters
