#pragma once
// Where text lines go: the transport half of an output (format x transport, as goflow2 splits them). The
// flow output, the DNS log and the alert log each pair a format with one of these, chosen by its target
// ("-" for stdout, a file path; later syslog:// and kafka://).
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
    // lines never interleave with another's. 0 when written, else the errno of the failed write (a closed pipe,
    // a full disk); a later call tries again.
    virtual int write(std::string_view lines) = 0;
    // Opens the target again, by name (SIGHUP after logrotate moved the file): lines from now on go to the new
    // file. Throws std::runtime_error naming the target and the reason; then the old file stays in use.
    virtual void reopen() = 0;
};

// A file descriptor: stdout, or a file opened for appending (restarting must not erase what an earlier run
// wrote). One write(2) per call, under a mutex taken per buffer (~64 KiB), never per line. `header` (a CSV
// header line, "" = none) leads a file only when it starts empty, and stdout once.
class FdTransport final : public LineTransport {
public:
    FdTransport(int fd, std::string target, bool owned, std::string header = {});
    ~FdTransport() override;
    FdTransport(const FdTransport&) = delete;
    FdTransport& operator=(const FdTransport&) = delete;

    const std::string& target() const override { return target_; }
    int write(std::string_view lines) override;
    void reopen() override;

private:
    int fd_;
    std::string target_;
    bool owned_;
    std::string header_;
    bool header_due_;
    std::mutex mutex_;
};

// "-" is stdout; anything else a file path, created if missing and appended to. Throws std::runtime_error
// naming the target and the reason when it cannot be opened.
std::unique_ptr<LineTransport> open_line_transport(const std::string& target, std::string header = {});

}  // namespace flowguard::exporters
