#pragma once
#include <cstdlib>
#include <string>

namespace flowguard::test {

// Test data lives in tests/fixtures; CTest passes its path in FLOWGUARD_FIXTURES.
inline std::string fixture(const std::string& relative) {
    const char* root = std::getenv("FLOWGUARD_FIXTURES");
    return std::string(root ? root : "tests/fixtures") + "/" + relative;
}

}  // namespace flowguard::test
