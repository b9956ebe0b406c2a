#include "temp_dirs.hpp"

#include <flowguard/exporters/webhook.hpp>

#include <doctest/doctest.h>

#include <unistd.h>

#include <fstream>

using namespace flowguard::exporters;
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const char* name) {
    return flowguard::test::fresh_test_dir("spool", name);
}

}  // namespace

TEST_CASE("the spool keeps alerts in order across restarts and refuses beyond its cap") {
    const auto dir = fresh_dir("order");
    std::atomic<bool> stop{false};
    {
        AlertSpool spool(dir, 3);
        CHECK(spool.push("one"));
        CHECK(spool.push("two"));
        CHECK(spool.push("three"));
        CHECK_FALSE(spool.push("four"));  // full: the caller counts a drop
        CHECK(spool.depth() == 3);
        const auto first = spool.wait_oldest(stop);
        REQUIRE(first);
        CHECK(first->second == "one");
        spool.remove(first->first);
    }
    std::ofstream(dir / "00000000000000000099.json.tmp") << "half-written";  // a crash mid-write
    AlertSpool reopened(dir, 3);
    CHECK(reopened.depth() == 2);
    CHECK_FALSE(fs::exists(dir / "00000000000000000099.json.tmp"));
    const auto next = reopened.wait_oldest(stop);
    REQUIRE(next);
    CHECK(next->second == "two");
    reopened.reject(next->first);
    CHECK(reopened.depth() == 1);
    CHECK(fs::exists(dir / "rejected" / "00000000000000000002.json"));
    CHECK(reopened.push("five"));
    const auto after = reopened.wait_oldest(stop);
    REQUIRE(after);
    CHECK(after->second == "three");
    reopened.remove(after->first);
    CHECK(reopened.wait_oldest(stop)->second == "five");  // numbered after what the first run left
    fs::remove_all(dir);
}

TEST_CASE("rejected alerts of earlier runs are never overwritten: ids go on after them") {
    const auto dir = fresh_dir("rejected");
    std::atomic<bool> stop{false};
    for (int run = 0; run < 3; ++run) {
        AlertSpool spool(dir, 10);
        for (int i = 0; i < 5; ++i) CHECK(spool.push("run " + std::to_string(run) + " alert " + std::to_string(i)));
        while (spool.depth() > 0) spool.reject(spool.wait_oldest(stop)->first);
    }
    std::size_t kept = 0;
    for (const auto& entry : fs::directory_iterator(dir / "rejected")) {
        std::ifstream in(entry.path());
        std::string body;
        std::getline(in, body);
        CHECK(body.rfind("run ", 0) == 0);
        ++kept;
    }
    CHECK(kept == 15);
    fs::remove_all(dir);
}

TEST_CASE("a stop request ends a wait on an empty spool; an unusable directory is an error") {
    const auto dir = fresh_dir("stop");
    AlertSpool spool(dir, 10);
    std::atomic<bool> stop{true};
    CHECK_FALSE(spool.wait_oldest(stop));
    fs::remove_all(dir);
    CHECK_THROWS_AS(AlertSpool("/proc/flowguard-cannot-be-here", 10), std::runtime_error);
}
