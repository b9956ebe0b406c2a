#pragma once
// The benchmark tools' memory probe: this process's resident set, from /proc/self/status.
#include <cstddef>
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

}  // namespace flowguard::bench
