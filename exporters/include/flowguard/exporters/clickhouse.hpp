#pragma once
// The ClickHouse sink: flow records inserted over ClickHouse's HTTP interface in RowBinary batches, into a flows
// table with roll-ups (flows_1m, flows_5m, flows_1h) kept by materialized views, as Akvorado does. The schema
// works on ClickHouse 18.16 (Debian 12's package) and on current releases; docs/STORAGE.md describes it, what
// newer releases add, and how several collectors write into one cluster.
//
// Shards never wait for the database: each shard's stage hands buffers of records to the sink's thread through a
// bounded queue. That thread encodes them into batches (at most clickhouse.batch_flows rows, sent at least every
// clickhouse.batch_interval), inserts them in order, and while the server is down keeps them: in memory up to
// half of clickhouse.max_buffered_flows, then in clickhouse.spool_dir (files that survive a restart) up to
// clickhouse.max_spool_size. Beyond both, new records are dropped, counted and logged. Failed requests are
// retried with an exponential backoff up to clickhouse.retry_max.
#include <flowguard/core/counters.hpp>
#include <flowguard/core/log_throttle.hpp>
#include <flowguard/core/stage.hpp>
#include <flowguard/exporters/config.hpp>
#include <flowguard/exporters/record_handoff.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace flowguard::exporters {

// The schema: statements creating the database, the tables and the views, each IF NOT EXISTS, in the order they
// must run. With `cluster` set, the tables are <name>_local on the server and <name> is a Distributed table
// over them.
std::vector<std::string> clickhouse_schema(const ClickHouseConfig& config);
// The INSERT a batch of rows follows (the flows table, its columns named, FORMAT RowBinary).
std::string clickhouse_insert_query(const ClickHouseConfig& config);
// The tables retention drops partitions of (the local tables on a cluster), with their maximum age (0 = kept).
struct ClickHouseTableAge {
    std::string table;
    std::uint64_t max_age_ns = 0;
};
std::vector<ClickHouseTableAge> clickhouse_retained_tables(const ClickHouseConfig& config);

// One row in RowBinary: every column has a fixed width, so every row takes kClickHouseRowBytes and a batch of
// rows is its byte length / kClickHouseRowBytes (the spool's files need no header).
inline constexpr std::size_t kClickHouseRowBytes = 192;
void append_clickhouse_rows(std::string& out, std::span<const FlowRecord> records);

// Retention: the statements dropping the partitions (days, toYYYYMMDD) past their table's age. `parts` is the
// answer of the retention query (clickhouse_partitions_query): lines of "table<TAB>partition".
std::string clickhouse_partitions_query(const ClickHouseConfig& config);
std::vector<std::string> clickhouse_expired_partitions(const ClickHouseConfig& config, std::string_view parts,
                                                       std::uint64_t now_ns);

// One HTTP request to the server: `query` goes in the URL (?query=...), `body` is POSTed after it (the rows of
// an INSERT, or a whole statement with an empty query).
struct ClickHouseRequest {
    std::string query;
    std::string_view body;
};
struct ClickHouseResponse {
    int status = 0;     // HTTP status, 0 when none came
    std::string error;  // what went wrong (connection, timeout, the server's exception text); "" when 2xx
    std::string body;   // the answer (at most 64 KiB)
    bool ok() const noexcept { return status >= 200 && status < 300; }
};
using ClickHouseTransport = std::function<ClickHouseResponse(const ClickHouseRequest&)>;
// The real one: HTTP(S) to clickhouse.url with basic auth when a username is set, bounded by clickhouse.timeout.
// Throws std::invalid_argument for a URL it cannot use.
ClickHouseTransport clickhouse_http(const ClickHouseConfig& config);

struct ClickHouseStats {
    std::uint64_t flows_inserted = 0;
    std::uint64_t flows_dropped = 0;  // memory and spool full, or a spool write failed: never inserted
    std::uint64_t inserts = 0;
    std::uint64_t request_errors = 0;  // failed requests (inserts, schema, retention), each retried
    std::uint64_t flows_buffered = 0;  // in memory, waiting (queue and batches)
    std::uint64_t flows_spooled = 0;   // on disk, waiting
    std::uint64_t spool_bytes = 0;
    std::uint64_t partitions_dropped = 0;  // by retention
    std::uint64_t up = 0;                  // the last request succeeded
};

inline constexpr CounterTable<ClickHouseStats, 9> kClickHouseStats{{
    {"flows_inserted", counter_ref<&ClickHouseStats::flows_inserted>, Merge::sum, "flowguard_clickhouse_flows_total",
     MetricType::counter, "Flow records ClickHouse accepted."},
    {"flows_dropped", counter_ref<&ClickHouseStats::flows_dropped>, Merge::sum,
     "flowguard_clickhouse_flows_dropped_total", MetricType::counter,
     "Flow records never inserted: the memory buffer and the spool were full, or a spool write failed (logged)."},
    {"inserts", counter_ref<&ClickHouseStats::inserts>, Merge::sum, "flowguard_clickhouse_inserts_total",
     MetricType::counter, "INSERT requests ClickHouse accepted (batches)."},
    {"request_errors", counter_ref<&ClickHouseStats::request_errors>, Merge::sum,
     "flowguard_clickhouse_request_errors_total", MetricType::counter,
     "Failed ClickHouse requests (inserts, schema, retention); each is retried with a backoff."},
    {"flows_buffered", counter_ref<&ClickHouseStats::flows_buffered>, Merge::sum, "flowguard_clickhouse_buffered_flows",
     MetricType::gauge, "Flow records waiting in memory for ClickHouse."},
    {"flows_spooled", counter_ref<&ClickHouseStats::flows_spooled>, Merge::sum, "flowguard_clickhouse_spooled_flows",
     MetricType::gauge, "Flow records waiting in clickhouse.spool_dir for ClickHouse."},
    {"spool_bytes", counter_ref<&ClickHouseStats::spool_bytes>, Merge::sum, "flowguard_clickhouse_spool_bytes",
     MetricType::gauge, "Bytes clickhouse.spool_dir's batches take."},
    {"partitions_dropped", counter_ref<&ClickHouseStats::partitions_dropped>, Merge::sum,
     "flowguard_clickhouse_partitions_dropped_total", MetricType::counter,
     "Day partitions dropped by clickhouse.retention."},
    {"up", counter_ref<&ClickHouseStats::up>, Merge::max, "flowguard_clickhouse_up", MetricType::gauge,
     "1 when the last ClickHouse request succeeded (an idle sink checks once a minute), else 0."},
}};
void append_clickhouse_metric_specs(std::vector<MetricSpec>& catalog);

// Batches of encoded rows kept on disk while the server is down: <sequence>.v1.rowbinary files, oldest first.
class ClickHouseSpool {
public:
    // Creates the directory and picks up what an earlier run left; damaged files (not whole rows) are renamed
    // *.bad and logged. Throws std::runtime_error naming the directory when it cannot be used.
    ClickHouseSpool(std::string dir, std::uint64_t max_bytes);
    bool has_room(std::size_t bytes) const noexcept { return bytes_ + bytes <= max_bytes_; }
    bool push(std::string_view rows);  // false: no room, or the write failed (the caller counts the drop)
    bool empty() const noexcept { return files_.empty(); }
    std::string oldest() const;  // the rows of the oldest batch ("" when it cannot be read: pop it)
    void pop();
    std::uint64_t oldest_rows() const noexcept {
        return files_.empty() ? 0 : files_.front().bytes / kClickHouseRowBytes;
    }
    std::uint64_t bytes() const noexcept { return bytes_; }
    std::uint64_t rows() const noexcept { return bytes_ / kClickHouseRowBytes; }

private:
    struct File {
        std::uint64_t sequence;
        std::uint64_t bytes;
    };
    std::string path_of(std::uint64_t sequence) const;
    std::string dir_;
    std::uint64_t max_bytes_;
    std::deque<File> files_;
    std::uint64_t bytes_ = 0;
    std::uint64_t next_sequence_ = 1;
};

class ClickHouseSink {
public:
    // Opens the spool (throws std::runtime_error when clickhouse.spool_dir cannot be used) and starts the
    // sender thread; the server need not be up. `transport` and `clock` (of batch ages and backoffs: monotonic;
    // retention reads the wall clock) are for tests.
    explicit ClickHouseSink(const ClickHouseConfig& config, ClickHouseTransport transport = {},
                            std::function<std::uint64_t()> clock = {});
    ~ClickHouseSink();
    ClickHouseSink(const ClickHouseSink&) = delete;
    ClickHouseSink& operator=(const ClickHouseSink&) = delete;

    std::unique_ptr<Stage> stage();
    // Sends what is buffered for up to `grace` (clickhouse.stop_grace) while the server takes it; what is left
    // goes to the spool (or is counted as dropped when there is none). Idempotent.
    void stop() { stop(std::chrono::nanoseconds(config_.stop_grace_ns)); }
    void stop(std::chrono::nanoseconds grace);
    ClickHouseStats stats() const;
    void write_metrics(MetricSink& sink) const;

    // For the stages: a buffer of records to send (moved from); an empty one comes back.
    void submit(std::vector<FlowRecord>& records);

private:
    struct Batch {
        std::string rows;
        std::uint64_t started_ns = 0;
        std::size_t count() const noexcept { return rows.size() / kClickHouseRowBytes; }
    };
    void run();
    bool has_sealed() const noexcept;
    std::uint64_t idle_ns(std::uint64_t now, bool stopping, std::uint64_t deadline) const noexcept;
    void take_queue(bool stopping);
    void start_batch(std::uint64_t now);
    void recycle(std::string&& rows);
    void seal_open_batch();
    void spill();
    bool send_one();
    bool request(const ClickHouseRequest& request, std::string_view what);
    bool ensure_schema();
    void apply_retention();
    void backoff();
    void drop_rest();
    void publish();

    ClickHouseConfig config_;
    ClickHouseTransport transport_;
    std::function<std::uint64_t()> clock_;
    std::string insert_query_;
    std::unique_ptr<ClickHouseSpool> spool_;

    // The sender thread's own state.
    Batch open_;
    std::deque<Batch> memory_;            // sealed, oldest first (older than open_, newer than the spool)
    std::vector<std::string> free_rows_;  // sent batches' buffers, for the next ones
    std::size_t memory_flows_ = 0;
    bool schema_ready_ = false;
    bool spool_failing_ = false;  // a spool write failed with room left: logged once until one succeeds
    std::uint64_t next_attempt_ns_ = 0;
    std::uint64_t backoff_ns_ = 0;
    std::uint64_t next_retention_ns_ = 0;
    std::uint64_t last_request_ns_ = 0;
    LogThrottle error_log_;
    ClickHouseStats own_;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    RecordQueue queue_;
    std::size_t waiting_flows_ = 0;  // the sender's memory (open_ + memory_), as of its last round
    std::uint64_t dropped_ = 0;
    LogThrottle drop_log_;
    bool stopping_ = false;
    std::uint64_t stop_deadline_ns_ = 0;
    ClickHouseStats published_;
    std::thread thread_;
};

}  // namespace flowguard::exporters
