#include "write_fully.hpp"

#include <flowguard/exporters/line_transport.hpp>

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace flowguard::exporters {
namespace {

int open_for_append(const std::string& target) {
    const int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error(fmt::format("cannot open '{}': {}", target, std::strerror(errno)));
    return fd;
}

// A header belongs at the start of a file: a file that already holds lines (an earlier run's) gets none.
bool starts_empty(int fd) {
    struct stat st {};
    return ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0;
}

}  // namespace

FdTransport::FdTransport(int fd, std::string target, bool owned, std::string header)
    : fd_(fd), target_(std::move(target)), owned_(owned), header_(std::move(header)) {
    header_due_ = !header_.empty() && starts_empty(fd_);
}

FdTransport::~FdTransport() {
    if (owned_ && fd_ >= 0) ::close(fd_);
}

int FdTransport::write(std::string_view lines) {
    std::lock_guard lock(mutex_);
    if (header_due_) {
        if (const int error = write_fully(fd_, header_)) return error;
        header_due_ = false;
    }
    return write_fully(fd_, lines);
}

void FdTransport::reopen() {
    if (!owned_) return;  // stdout: whoever redirected it rotates it
    const int fd = open_for_append(target_);
    std::lock_guard lock(mutex_);
    ::close(fd_);
    fd_ = fd;
    header_due_ = !header_.empty() && starts_empty(fd_);
}

std::unique_ptr<LineTransport> open_line_transport(const std::string& target, std::string header) {
    if (target == "-") return std::make_unique<FdTransport>(STDOUT_FILENO, target, false, std::move(header));
    return std::make_unique<FdTransport>(open_for_append(target), target, true, std::move(header));
}

}  // namespace flowguard::exporters
