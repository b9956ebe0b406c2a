#pragma once
// A file's whole contents, byte for byte ("" when it cannot be opened): what tests compare a writer's output
// against.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace flowguard::test {

inline std::string file_contents(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace flowguard::test
