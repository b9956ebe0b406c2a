#pragma once
// State files (templates, open findings, the lateral-movement graph) are replaced whole or not at all: written
// to <path>.tmp, then renamed over <path>, so a crash or a full disk leaves the previous file, never half of a
// new one.
#include <functional>
#include <iosfwd>
#include <string>

namespace flowguard {

// Writes `path` through `write`. Returns "" on success, else what failed with the file named (the temporary is
// removed); each caller reports it its own way (an exception, a counted log line).
std::string replace_file(const std::string& path, const std::function<void(std::ostream&)>& write);

}  // namespace flowguard
