#pragma once
// The benchmark tools' probes of their own process: resident set (/proc/self/status) and CPU time.
#include <cstddef>
#include <ctime>
#include <fstream>
#include <string>

namespace flowguard::bench {

inline std::size_t rss_kib() {
    std::ifstream status("/proc/self/status");
    std::string key;
    std::size_t value = 0;
    while (status >> key) {
        if (key == "VmRSS:") {
            status >> value;
            return value;
        }
        status.ignore(1 << 10, '\n');
    }
    return 0;
}

// User + system CPU seconds of the whole process (all its threads).
inline double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace flowguard::bench
