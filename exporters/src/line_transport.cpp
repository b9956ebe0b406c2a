#include <flowguard/exporters/line_transport.hpp>

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace flowguard::exporters {

FdTransport::FdTransport(int fd, std::string target, bool owned) : fd_(fd), target_(std::move(target)), owned_(owned) {}

FdTransport::~FdTransport() {
    if (owned_ && fd_ >= 0) ::close(fd_);
}

bool FdTransport::write(std::string_view lines) {
    std::lock_guard lock(mutex_);
    const char* data = lines.data();
    std::size_t size = lines.size();
    while (size > 0) {
        const auto n = ::write(fd_, data, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            failed_.store(true, std::memory_order_relaxed);
            return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

std::unique_ptr<LineTransport> open_line_transport(const std::string& target) {
    if (target == "-") return std::make_unique<FdTransport>(STDOUT_FILENO, target, false);
    const int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error(fmt::format("cannot open '{}': {}", target, std::strerror(errno)));
    return std::make_unique<FdTransport>(fd, target, true);
}

}  // namespace flowguard::exporters
