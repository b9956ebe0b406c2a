#include <flowguard/core/state_file.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace flowguard {

std::string replace_file(const std::string& path, const std::function<void(std::ostream&)>& write) {
    const std::string temporary = path + ".tmp";
    std::ofstream out(temporary, std::ios::trunc);
    if (out) write(out);
    out.close();  // a full disk often shows only here, when the last buffer is written
    if (!out) {
        const std::string error = fmt::format("cannot write {}: {}", temporary, std::strerror(errno));
        std::remove(temporary.c_str());
        return error;
    }
    if (std::rename(temporary.c_str(), path.c_str()) != 0) {
        const std::string error = fmt::format("cannot rename {} to {}: {}", temporary, path, std::strerror(errno));
        std::remove(temporary.c_str());
        return error;
    }
    return {};
}

}  // namespace flowguard
