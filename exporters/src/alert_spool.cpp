// A webhook's disk spool: one file per alert, in arrival order, that survives restarts.
#include "spool_files.hpp"

#include <flowguard/exporters/webhook.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <system_error>

namespace flowguard::exporters {
namespace {

namespace fs = std::filesystem;

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
    if (!write_spool_file(probe, ""))
        throw std::runtime_error(fmt::format("alert spool {}: not writable", dir_.string()));
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
    // The write happens under the lock so ids reach the delivery thread in order; alerts are rare.
    if (!write_spool_file(file_of(id), body)) return false;
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
    auto body = read_spool_file(file_of(id));
    return std::make_pair(id, body ? std::move(*body) : std::string());  // unreadable: the caller rejects it
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
