#pragma once
// The files of the disk spools (a webhook's alerts, the ClickHouse sink's batches): written whole or not at all
// and read back whole. Not fsync'd: the alert spool is written from shard threads, and a burst of alerts times
// a sync each would stall them long enough to drop records; the page cache survives a crash or restart of
// flowguard, which is what the spools are for.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace flowguard::exporters {

// Writes `data` to <path>.tmp and renames it to `path`: a crash leaves no partial file under `path`, only a *.tmp
// that the spool removes at its next start. False (and no file) when any step failed.
bool write_spool_file(const std::filesystem::path& path, std::string_view data);
// The file's bytes; nullopt when it cannot be opened or read.
std::optional<std::string> read_spool_file(const std::filesystem::path& path);

}  // namespace flowguard::exporters
