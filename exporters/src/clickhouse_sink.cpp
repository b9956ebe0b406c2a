// The ClickHouse sink's thread: batches, inserts in order, keeps what the server cannot take yet (memory, then
// the disk spool), retries with a backoff, creates the schema and applies retention.
#include "spool_files.hpp"

#include <flowguard/core/clock.hpp>
#include <flowguard/exporters/clickhouse.hpp>
#include <flowguard/exporters/record_handoff.hpp>
#include <flowguard/exporters/webhook.hpp>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <pthread.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace flowguard::exporters {
namespace fs = std::filesystem;
namespace {

constexpr std::uint64_t kFirstInsertRetryNs = kSecondNs;
constexpr std::uint64_t kRetentionEveryNs = 3600 * kSecondNs;
// With nothing to insert for this long, a `SELECT 1` keeps flowguard_clickhouse_up true to the server's state
// (an idle collector must neither hide an outage nor raise FlowguardClickHouseDown for a healthy server).
constexpr std::uint64_t kHealthCheckEveryNs = 60 * kSecondNs;
// Backoffs and batch ages follow a clock that never steps (an NTP correction must not hold inserts back for as
// long as it stepped); retention's days follow the wall clock.
std::uint64_t monotonic_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * kSecondNs + static_cast<std::uint64_t>(ts.tv_nsec);
}

constexpr std::string_view kSpoolSuffix = ".v1.rowbinary";  // v1: kClickHouseRowBytes rows of this schema

std::string url_encode(std::string_view text) {
    std::string out;
    out.reserve(text.size() * 3);
    for (const unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
            out.push_back(static_cast<char>(c));
        else
            fmt::format_to(std::back_inserter(out), "%{:02X}", c);
    }
    return out;
}

std::string basic_auth(const std::string& user, const std::string& password) {
    const std::string plain = user + ":" + password;
    std::string encoded(4 * ((plain.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                  reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size()));
    encoded.resize(static_cast<std::size_t>(n));
    return "Basic " + encoded;
}

std::optional<std::uint64_t> spool_sequence(const std::string& name) {
    if (name.size() <= kSpoolSuffix.size() || !name.ends_with(kSpoolSuffix)) return std::nullopt;
    std::uint64_t sequence = 0;
    const auto digits = std::string_view(name).substr(0, name.size() - kSpoolSuffix.size());
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), sequence);
    if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
    return sequence;
}

// The server lost the tables (dropped by hand, a new server): "Code: 60" unknown table, "Code: 81" unknown
// database. The schema is created again before the next insert.
bool schema_missing(const ClickHouseResponse& response) {
    return response.error.find("Code: 60,") != std::string::npos ||
           response.error.find("Code: 81,") != std::string::npos;
}

}  // namespace

ClickHouseTransport clickhouse_http(const ClickHouseConfig& config) {
    const WebhookUrl url = parse_webhook_url(config.url);  // throws std::invalid_argument
    const HttpClientOptions http{config.timeout_ns, config.ca_file, config.tls_verify};
    std::vector<std::pair<std::string, std::string>> headers{{"Content-Type", "application/octet-stream"}};
    if (!config.username.empty()) headers.emplace_back("Authorization", basic_auth(config.username, config.password));
    return [url, http, headers](const ClickHouseRequest& request) {
        WebhookPayload payload{url.path, request.body};
        if (!request.query.empty())
            payload.path += fmt::format("{}query={}", url.path.find('?') == std::string::npos ? '?' : '&',
                                        url_encode(request.query));
        auto result = http_post(http, url, payload, headers);
        ClickHouseResponse response;
        response.status = result.status;
        response.body = std::move(result.body);
        if (!result.delivered()) response.error = result.detail.empty() ? result.reason : result.detail;
        return response;
    };
}

ClickHouseSpool::ClickHouseSpool(std::string dir, std::uint64_t max_bytes)
    : dir_(std::move(dir)), max_bytes_(max_bytes) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw std::runtime_error(fmt::format("clickhouse spool {}: {}", dir_, ec.message()));
    if (!write_spool_file(dir_ + "/.write-test", ""))
        throw std::runtime_error(fmt::format("clickhouse spool {}: not writable", dir_));
    fs::remove(dir_ + "/.write-test", ec);
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
        if (!entry.is_regular_file()) continue;
        const auto name = entry.path().filename().string();
        if (name.ends_with(".tmp")) {  // a write a crash interrupted: never counted as spooled
            fs::remove(entry.path(), ec);
            continue;
        }
        const auto sequence = spool_sequence(name);
        if (!sequence) continue;
        const auto size = entry.file_size(ec);
        if (ec || size % kClickHouseRowBytes != 0) {
            spdlog::error("clickhouse spool {}: {} is not whole rows ({} bytes): renamed {}.bad, not sent", dir_, name,
                          size, name);
            fs::rename(entry.path(), entry.path().string() + ".bad", ec);
            continue;
        }
        files_.push_back({*sequence, size});
        bytes_ += size;
    }
    if (ec) throw std::runtime_error(fmt::format("clickhouse spool {}: {}", dir_, ec.message()));
    std::sort(files_.begin(), files_.end(), [](const File& a, const File& b) { return a.sequence < b.sequence; });
    if (!files_.empty()) {
        next_sequence_ = files_.back().sequence + 1;
        spdlog::info("clickhouse spool {}: {} batches ({} flows) from an earlier run to send", dir_, files_.size(),
                     rows());
    }
}

std::string ClickHouseSpool::path_of(std::uint64_t sequence) const {
    return fmt::format("{}/{:020}{}", dir_, sequence, kSpoolSuffix);
}

bool ClickHouseSpool::push(std::string_view rows) {
    if (!has_room(rows.size())) return false;
    const auto sequence = next_sequence_++;
    if (!write_spool_file(path_of(sequence), rows)) return false;
    files_.push_back({sequence, rows.size()});
    bytes_ += rows.size();
    return true;
}

std::string ClickHouseSpool::oldest() const {
    if (files_.empty()) return {};
    auto rows = read_spool_file(path_of(files_.front().sequence));
    if (!rows || rows->size() != files_.front().bytes) return {};  // changed or vanished under us
    return std::move(*rows);
}

void ClickHouseSpool::pop() {
    if (files_.empty()) return;
    std::error_code ec;
    fs::remove(path_of(files_.front().sequence), ec);
    bytes_ -= files_.front().bytes;
    files_.pop_front();
}

ClickHouseSink::ClickHouseSink(const ClickHouseConfig& config, ClickHouseTransport transport,
                               std::function<std::uint64_t()> clock)
    : config_(config),
      transport_(transport ? std::move(transport) : clickhouse_http(config)),
      clock_(clock ? std::move(clock) : std::function<std::uint64_t()>(monotonic_ns)),
      insert_query_(clickhouse_insert_query(config)) {
    if (!config_.spool_dir.empty())
        spool_ = std::make_unique<ClickHouseSpool>(config_.spool_dir, config_.max_spool_bytes);
    schema_ready_ = !config_.create_schema;
    publish();
    thread_ = std::thread([this] { run(); });
}

ClickHouseSink::~ClickHouseSink() {
    stop();
}

std::unique_ptr<Stage> ClickHouseSink::stage() {
    return std::make_unique<RecordHandoffStage<ClickHouseSink>>(*this);
}

void ClickHouseSink::submit(std::vector<FlowRecord>& records) {
    std::unique_lock lock(mutex_);
    if (stopping_ || queue_.flows() + waiting_flows_ + records.size() > config_.max_buffered_flows) {
        dropped_ += records.size();
        if (drop_log_.due(clock_())) {
            spdlog::warn(
                "clickhouse {}: {} flows dropped so far: the buffer is full (clickhouse.max_buffered_flows {}{}); "
                "logged at most once a minute",
                config_.url, dropped_, config_.max_buffered_flows,
                spool_ ? ", and the spool" : "; no clickhouse.spool_dir");
        }
        records.clear();
        return;
    }
    queue_.push(records);
    lock.unlock();
    wake_.notify_one();
}

void ClickHouseSink::seal_open_batch() {
    if (open_.rows.empty()) return;
    memory_flows_ += open_.count();
    memory_.push_back(std::move(open_));
    open_ = {};
}

// A batch's buffer is megabytes: one that was sent is reused rather than freed and faulted in again (fresh
// pages cost more than encoding the rows).
void ClickHouseSink::start_batch(std::uint64_t now) {
    open_.started_ns = now;
    if (!free_rows_.empty()) {
        open_.rows = std::move(free_rows_.back());
        free_rows_.pop_back();
    }
    open_.rows.reserve(config_.batch_flows * kClickHouseRowBytes);
}

void ClickHouseSink::recycle(std::string&& rows) {
    rows.clear();
    if (free_rows_.size() < 2) free_rows_.push_back(std::move(rows));
}

void ClickHouseSink::take_queue(bool stopping) {
    std::vector<std::vector<FlowRecord>> taken;
    {
        std::lock_guard lock(mutex_);
        waiting_flows_ += queue_.flows();  // still counted against the buffer while being encoded
        queue_.take(taken);
    }
    const std::uint64_t now = clock_();
    for (const auto& records : taken) {
        std::span<const FlowRecord> rest(records);
        while (!rest.empty()) {
            if (open_.rows.empty()) start_batch(now);
            const auto take = std::min(rest.size(), config_.batch_flows - open_.count());
            append_clickhouse_rows(open_.rows, rest.first(take));
            rest = rest.subspan(take);
            if (open_.count() == config_.batch_flows) seal_open_batch();
        }
    }
    if (!open_.rows.empty() && (stopping || now >= open_.started_ns + config_.batch_interval_ns)) seal_open_batch();
    std::lock_guard lock(mutex_);
    queue_.recycle(taken);
    waiting_flows_ = memory_flows_ + open_.count();
}

// Batches beyond half the memory budget go to disk (oldest first, so the spool always holds the oldest rows);
// the other half is the shards' queue.
void ClickHouseSink::spill() {
    if (!spool_) return;
    while (!memory_.empty() && memory_flows_ > config_.max_buffered_flows / 2) {
        if (!spool_->push(memory_.front().rows)) {
            if (spool_->has_room(memory_.front().rows.size()) && !spool_failing_)  // once per failing spell
                spdlog::error("clickhouse spool {}: a batch could not be written (kept in memory; a full disk?)",
                              config_.spool_dir);
            spool_failing_ = spool_->has_room(memory_.front().rows.size());
            return;
        }
        spool_failing_ = false;
        memory_flows_ -= memory_.front().count();
        memory_.pop_front();
    }
}

bool ClickHouseSink::request(const ClickHouseRequest& request, std::string_view what) {
    last_request_ns_ = clock_();
    const auto response = transport_(request);
    if (response.ok()) {
        if (own_.up == 0 && error_log_.logged()) spdlog::info("clickhouse {}: requests succeed again", config_.url);
        own_.up = 1;
        error_log_.reset();
        return true;
    }
    own_.up = 0;
    ++own_.request_errors;
    if (schema_missing(response) && config_.create_schema) schema_ready_ = false;
    if (error_log_.due(clock_())) {
        spdlog::error(
            "clickhouse {}: {} failed: {} (retried; {} flows waiting in memory, {} spooled; logged at most "
            "once a minute)",
            config_.url, what, response.error, memory_flows_ + open_.count(), spool_ ? spool_->rows() : 0);
    }
    backoff();
    return false;
}

void ClickHouseSink::backoff() {
    backoff_ns_ = backoff_ns_ == 0 ? kFirstInsertRetryNs : std::min(backoff_ns_ * 2, config_.retry_max_ns);
    next_attempt_ns_ = clock_() + backoff_ns_;
}

bool ClickHouseSink::ensure_schema() {
    if (schema_ready_) return true;
    for (const auto& statement : clickhouse_schema(config_))
        if (!request({"", statement}, "creating the schema")) return false;
    schema_ready_ = true;
    spdlog::info("clickhouse {}: schema ready in database {}", config_.url, config_.database);
    return true;
}

void ClickHouseSink::apply_retention() {
    next_retention_ns_ = clock_() + kRetentionEveryNs;
    const auto tables = clickhouse_retained_tables(config_);
    if (std::none_of(tables.begin(), tables.end(), [](const auto& t) { return t.max_age_ns != 0; })) return;
    const auto parts = transport_({"", clickhouse_partitions_query(config_)});
    if (!parts.ok()) {
        // Not worth a backoff of the inserts: retention is tried again in an hour.
        ++own_.request_errors;
        spdlog::warn("clickhouse {}: listing partitions for retention failed: {}", config_.url, parts.error);
        return;
    }
    for (const auto& drop : clickhouse_expired_partitions(config_, parts.body, wall_clock_ns())) {
        const auto response = transport_({"", drop});
        if (response.ok()) {
            ++own_.partitions_dropped;
            spdlog::info("clickhouse {}: retention: {}", config_.url, drop);
        } else {
            ++own_.request_errors;
            spdlog::warn("clickhouse {}: retention: {} failed: {}", config_.url, drop, response.error);
        }
    }
}

// The oldest waiting batch: the spool's, then memory's.
bool ClickHouseSink::send_one() {
    const bool from_spool = spool_ && !spool_->empty();
    std::string spooled;
    if (from_spool) {
        spooled = spool_->oldest();
        if (spooled.empty()) {
            const auto lost = spool_->oldest_rows();
            spdlog::error(
                "clickhouse spool {}: the oldest batch ({} flows) cannot be read: removed, counted as dropped",
                config_.spool_dir, lost);
            own_.flows_dropped += lost;
            spool_->pop();
            return true;
        }
    }
    const std::string& rows = from_spool ? spooled : memory_.front().rows;
    if (!request({insert_query_, rows}, "insert")) return false;
    const std::size_t count = rows.size() / kClickHouseRowBytes;
    own_.flows_inserted += count;
    ++own_.inserts;
    backoff_ns_ = 0;
    if (from_spool) {
        spool_->pop();
        recycle(std::move(spooled));
    } else {
        memory_flows_ -= count;
        recycle(std::move(memory_.front().rows));
        memory_.pop_front();
    }
    return true;
}

// At stop, past the grace: what memory holds goes to the spool, or is lost (counted, logged).
void ClickHouseSink::drop_rest() {
    seal_open_batch();
    std::uint64_t lost = 0;
    for (auto& batch : memory_)
        if (!spool_ || !spool_->push(batch.rows)) lost += batch.count();
    if (spool_ && memory_flows_ > lost)
        spdlog::info("clickhouse {}: {} flows spooled in {} for the next start", config_.url, memory_flows_ - lost,
                     config_.spool_dir);
    if (lost > 0)
        spdlog::error("clickhouse {}: {} flows not inserted at stop ({})", config_.url, lost,
                      spool_ ? "the spool is full" : "no clickhouse.spool_dir to keep them");
    own_.flows_dropped += lost;
    memory_.clear();
    memory_flows_ = 0;
}

void ClickHouseSink::publish() {
    std::lock_guard lock(mutex_);
    published_ = own_;
    published_.flows_buffered = queue_.flows() + memory_flows_ + open_.count();
    published_.flows_spooled = spool_ ? spool_->rows() : 0;
    published_.spool_bytes = spool_ ? spool_->bytes() : 0;
    waiting_flows_ = memory_flows_ + open_.count();
}

bool ClickHouseSink::has_sealed() const noexcept {
    return !memory_.empty() || (spool_ && !spool_->empty());
}

// How long the sender may sleep: until the next retry when batches wait, until the open batch is due, until the
// stop deadline; a second at most (retention, the clock of tests).
std::uint64_t ClickHouseSink::idle_ns(std::uint64_t now, bool stopping, std::uint64_t deadline) const noexcept {
    std::uint64_t until = now + kSecondNs;
    if (has_sealed()) until = std::min(until, std::max(now, next_attempt_ns_));
    if (!open_.rows.empty()) until = std::min(until, open_.started_ns + config_.batch_interval_ns);
    if (stopping) until = std::min(until, deadline);
    return until > now ? until - now : 0;
}

void ClickHouseSink::run() {
    pthread_setname_np(pthread_self(), "fg-clickhouse");  // top -H: the pipeline's threads are named too
    bool stopping = false;
    std::uint64_t deadline = 0;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            wake_.wait_for(lock, std::chrono::nanoseconds(idle_ns(clock_(), stopping, deadline)),
                           [&] { return !queue_.empty() || stopping_ != stopping; });
            stopping = stopping_;
            deadline = stop_deadline_ns_;
        }
        take_queue(stopping);
        spill();
        if (clock_() >= next_attempt_ns_ && ensure_schema()) {
            if (clock_() >= next_retention_ns_) apply_retention();
            // A few batches per round, then the queue again: the shards' records keep moving while a backlog drains.
            for (int sent = 0; sent < 4 && has_sealed(); ++sent)
                if (!send_one()) break;
            if (!has_sealed() && clock_() >= last_request_ns_ + kHealthCheckEveryNs)
                request({"", "SELECT 1"}, "health check");
        }
        publish();
        if (!stopping) continue;
        // Stopping: while the server takes batches, they go until the deadline. When it does not, memory's batches
        // go to the spool at once (the next start sends them); without a spool they get the deadline's chance.
        const bool taking = own_.up == 1;
        const bool left = (!memory_.empty() && (taking || !spool_)) || (spool_ && !spool_->empty() && taking);
        if (!left || clock_() >= deadline) {
            drop_rest();
            publish();
            return;
        }
    }
}

void ClickHouseSink::stop(std::chrono::nanoseconds grace) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
        stop_deadline_ns_ = clock_() + static_cast<std::uint64_t>(grace.count());
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
}

ClickHouseStats ClickHouseSink::stats() const {
    std::lock_guard lock(mutex_);
    ClickHouseStats s = published_;
    s.flows_dropped += dropped_;
    return s;
}

void ClickHouseSink::write_metrics(MetricSink& sink) const {
    flowguard::write_metrics(sink, stats(), kClickHouseStats, {});
}

}  // namespace flowguard::exporters
