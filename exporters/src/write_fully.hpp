#pragma once
// One write loop for the sinks that write to a descriptor (event archive files, spool files, line outputs):
// short writes continue, EINTR retries, and a failure comes back as its errno, so each caller says it its own
// way (an exception naming the file, a false, a counted drop).
#include <unistd.h>

#include <cerrno>
#include <string_view>

namespace flowguard::exporters {

// 0 when all of `data` was written; otherwise the failed write's errno (EIO for a write that wrote nothing
// without saying why, which would leave errno stale).
inline int write_fully(int fd, std::string_view data) noexcept {
    while (!data.empty()) {
        const auto n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        if (n == 0) return EIO;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return 0;
}

}  // namespace flowguard::exporters
