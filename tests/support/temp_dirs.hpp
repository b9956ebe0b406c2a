#pragma once
// A directory of a test's own under the system's temporary directory: <tmp>/flowguard-<suite>-<pid>/<name>,
// removed first with its ".events" sibling (where an archive keeps its DNS events and alerts), so a test starts
// from nothing and parallel runs (ctest -j, two build trees) do not share files. Not created: tests that
// check a writer makes its directory need it absent.
#include <unistd.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace flowguard::test {

inline std::filesystem::path fresh_test_dir(std::string_view suite, std::string_view name) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("flowguard-" + std::string(suite) + "-" + std::to_string(::getpid())) / std::string(name);
    std::filesystem::remove_all(dir);
    std::filesystem::remove_all(dir.string() + ".events");
    return dir;
}

}  // namespace flowguard::test
