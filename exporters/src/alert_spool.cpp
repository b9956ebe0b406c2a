// A webhook's disk spool: one file per alert, in arrival order, that survives restarts.
#include <flowguard/exporters/webhook.hpp>

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace flowguard::exporters {
namespace {

namespace fs = std::filesystem;

// Writes the whole buffer. Not fsync'd: the spool is written from shard threads, and a burst of alerts
// times a sync each would stall them long enough to drop records; the page cache survives a crash or
// restart of flowguard, which is what the spool is for.
bool write_file(const fs::path& path, std::string_view data) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    std::size_t done = 0;
    while (done < data.size()) {
        const auto n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ::close(fd);
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    return ::close(fd) == 0;
}

}  // namespace

std::optional<std::uint64_t> spool_entry_id(const fs::path& file) {
    if (file.extension() != ".json") return std::nullopt;
    const auto stem = file.stem().string();
    std::uint64_t id = 0;
    auto [ptr, ec] = std::from_chars(stem.data(), stem.data() + stem.size(), id);
    if (ec != std::errc{} || ptr != stem.data() + stem.size() || stem.size() != 20) return std::nullopt;
    return id;
}

AlertSpool::AlertSpool(fs::path dir, std::size_t max_entries) : dir_(std::move(dir)), max_entries_(max_entries) {
    std::error_code ec;
    fs::create_directories(dir_ / "rejected", ec);
    if (ec) throw std::runtime_error(fmt::format("alert spool {}: {}", dir_.string(), ec.message()));
    const auto probe = dir_ / ".write-test";
    if (!write_file(probe, "")) throw std::runtime_error(fmt::format("alert spool {}: not writable", dir_.string()));
    fs::remove(probe, ec);
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
        if (!entry.is_regular_file()) continue;
        if (entry.path().extension() == ".tmp") {  // a write that a crash interrupted: never acknowledged
            fs::remove(entry.path(), ec);
            continue;
        }
        if (const auto id = spool_entry_id(entry.path())) ids_.push_back(*id);
    }
    if (ec) throw std::runtime_error(fmt::format("alert spool {}: {}", dir_.string(), ec.message()));
    std::sort(ids_.begin(), ids_.end());
    if (!ids_.empty()) next_id_ = ids_.back() + 1;
    // Ids go on after the rejected ones too: a new alert must never be renamed over one kept in rejected/.
    for (const auto& entry : fs::directory_iterator(dir_ / "rejected", ec))
        if (const auto id = spool_entry_id(entry.path())) next_id_ = std::max(next_id_, *id + 1);
}

fs::path AlertSpool::file_of(std::uint64_t id) const {
    return dir_ / fmt::format("{:020}.json", id);
}

bool AlertSpool::push(std::string_view body) {
    std::unique_lock lock(mutex_);
    if (ids_.size() >= max_entries_) return false;
    const auto id = next_id_++;
    const auto final_path = file_of(id);
    auto temporary = final_path;
    temporary += ".tmp";
    // The write happens under the lock so ids reach the delivery thread in order; alerts are rare.
    std::error_code ec;
    if (!write_file(temporary, body) || (fs::rename(temporary, final_path, ec), ec)) {
        fs::remove(temporary, ec);
        return false;
    }
    ids_.push_back(id);
    lock.unlock();
    ready_.notify_one();
    return true;
}

std::optional<std::pair<std::uint64_t, std::string>> AlertSpool::wait_oldest(const std::atomic<bool>& stop) {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return !ids_.empty() || stop.load(std::memory_order_acquire); });
    if (ids_.empty()) return std::nullopt;
    const auto id = ids_.front();
    lock.unlock();
    std::ifstream in(file_of(id), std::ios::binary);
    if (!in.is_open()) return std::make_pair(id, std::string());  // unreadable: the caller rejects it
    std::ostringstream body;
    body << in.rdbuf();
    return std::make_pair(id, body.str());
}

void AlertSpool::remove(std::uint64_t id) {
    std::error_code ec;
    fs::remove(file_of(id), ec);
    std::lock_guard lock(mutex_);
    if (!ids_.empty() && ids_.front() == id) ids_.pop_front();
}

void AlertSpool::reject(std::uint64_t id) {
    std::error_code ec;
    fs::rename(file_of(id), dir_ / "rejected" / file_of(id).filename(), ec);
    if (ec) fs::remove(file_of(id), ec);
    std::lock_guard lock(mutex_);
    if (!ids_.empty() && ids_.front() == id) ids_.pop_front();
}

std::size_t AlertSpool::depth() const {
    std::lock_guard lock(mutex_);
    return ids_.size();
}

void AlertSpool::wake() {
    { std::lock_guard lock(mutex_); }
    ready_.notify_all();
}

}  // namespace flowguard::exporters
