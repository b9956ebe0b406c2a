#include "file_contents.hpp"
#include "temp_dirs.hpp"

#include <flowguard/core/state_file.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

using flowguard::test::file_contents;

TEST_CASE("state files are replaced whole; a failed write or rename leaves the old one and no temporary") {
    const auto dir = flowguard::test::fresh_test_dir("state-file", "replace");
    fs::create_directories(dir);
    const auto path = (dir / "state.json").string();
    CHECK(flowguard::replace_file(path, [](std::ostream& out) { out << "first\n"; }).empty());
    CHECK(file_contents(path) == "first\n");
    CHECK(flowguard::replace_file(path, [](std::ostream& out) { out << "second\n"; }).empty());
    CHECK(file_contents(path) == "second\n");
    CHECK_FALSE(fs::exists(path + ".tmp"));

    // The temporary cannot be created: a directory stands in its place.
    fs::create_directory(path + ".tmp");
    fs::create_directory(dir / "x");
    const auto blocked = flowguard::replace_file(path, [](std::ostream& out) { out << "third\n"; });
    CHECK(blocked.find("cannot write " + path + ".tmp") == 0);
    CHECK(file_contents(path) == "second\n");
    fs::remove(path + ".tmp");

    // The rename fails: the target is a directory that is not empty.
    const auto target = (dir / "x").string();
    std::ofstream(dir / "x" / "keep") << "k";
    const auto renamed = flowguard::replace_file(target, [](std::ostream& out) { out << "data\n"; });
    CHECK(renamed.find("cannot rename " + target + ".tmp to " + target) == 0);
    CHECK(fs::is_directory(target));
    CHECK_FALSE(fs::exists(target + ".tmp"));
}
