#pragma once
// Alert webhooks into ticketing and chat: generic signed JSON, Slack, PagerDuty (Events API v2) and
// Alertmanager (API v2). Every alert a webhook wants is first written to that webhook's disk spool (one
// file per alert), then a delivery thread per webhook POSTs the spool in order and deletes a file only
// when the receiver answered 2xx. Network errors, timeouts, 5xx, 408 and 429 are retried with an
// exponential backoff, across restarts; any other answer is a permanent rejection and the alert is
// moved to the spool's rejected/ directory for an operator. Alerts are rare, so a mutex per submit is
// fine here; nothing on the record path reaches this file.
#include <flowguard/core/alert.hpp>
#include <flowguard/core/counters.hpp>
#include <flowguard/core/stage.hpp>
#include <flowguard/exporters/config.hpp>

#include <boost/json/array.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace flowguard::exporters {

struct WebhookUrl {
    bool tls = false;
    std::string host;
    std::string port;  // "80" / "443" unless given
    std::string path;  // at least "/"
};

// Throws std::invalid_argument with the reason for anything but http(s)://HOST[:PORT][/PATH].
WebhookUrl parse_webhook_url(std::string_view url);

// One request: the path it is POSTed to and its body (not copied: a ClickHouse batch is megabytes; it must
// outlive the http_post call).
struct WebhookPayload {
    std::string path;
    std::string_view body;
};
// What a webhook kind makes of one alert (the body spooled and sent as is).
std::string webhook_body(const WebhookConfig& webhook, const Alert& alert);
std::string webhook_path(const WebhookConfig& webhook);  // the path every body of this webhook goes to

// X-Flowguard-Signature: "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body). Signing the
// timestamp with the body lets a receiver refuse replays of an old delivery.
std::string webhook_signature(std::string_view secret, std::string_view timestamp, std::string_view body);

// The headers of one delivery attempt (config headers, content type, signature when a secret is set).
std::vector<std::pair<std::string, std::string>> webhook_headers(const WebhookConfig& webhook, std::string_view body,
                                                                 std::uint64_t now_seconds);

// One webhook's spool directory: NNNNNNNNNNNNNNNNNNNN.json files in arrival order, written to a
// temporary name and renamed, so a crash of flowguard leaves whole alerts or none.
// A spool file's name, "00000000000000000042.json" -> 42; anything else is not a spool entry (nullopt).
std::optional<std::uint64_t> spool_entry_id(const std::filesystem::path& file);

class AlertSpool {
public:
    // Creates the directory (and rejected/) and picks up what a previous run left. Throws
    // std::runtime_error naming the directory when it cannot be used.
    AlertSpool(std::filesystem::path dir, std::size_t max_entries);

    bool push(std::string_view body);  // false: the spool is full (the caller counts the drop)
    // The oldest entry, waiting until there is one or `stop` is set.
    std::optional<std::pair<std::uint64_t, std::string>> wait_oldest(const std::atomic<bool>& stop);
    void remove(std::uint64_t id);  // delivered
    void reject(std::uint64_t id);  // refused for good: kept in rejected/
    std::size_t depth() const;
    void wake();  // wakes wait_oldest (stop)
    const std::filesystem::path& dir() const noexcept { return dir_; }

private:
    std::filesystem::path file_of(std::uint64_t id) const;

    std::filesystem::path dir_;
    std::size_t max_entries_;
    mutable std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::uint64_t> ids_;
    std::uint64_t next_id_ = 1;
};

// Outcome of one POST. `reason` is one of the bounded failure labels: connect, timeout, tls,
// http_status (retried), rejected (permanent), spool.
struct DeliveryResult {
    int status = 0;  // HTTP status, 0 when none came
    std::string reason;
    std::string detail;
    std::string body;  // the answer (at most 64 KiB): a ClickHouse query's result
    bool delivered() const noexcept { return status >= 200 && status < 300; }
    bool permanent() const noexcept { return reason == "rejected" || reason == "spool"; }
};

// What one POST needs besides the request: its deadline (resolve to answer) and how to trust an https server.
// Webhooks and the ClickHouse sink each fill it from their own section.
struct HttpClientOptions {
    std::uint64_t timeout_ns = 10ull * 1'000'000'000;
    std::string ca_file;  // "" = the system's CAs
    bool tls_verify = true;
};

DeliveryResult http_post(const HttpClientOptions& options, const WebhookUrl& url, const WebhookPayload& payload,
                         const std::vector<std::pair<std::string, std::string>>& headers);

struct WebhookStats {
    std::string name;
    std::uint64_t deliveries = 0;
    std::map<std::string, std::uint64_t> failures;  // reason -> attempts that failed
    std::uint64_t spool_drops = 0;
    std::uint64_t spool_depth = 0;
};

inline constexpr CounterTable<WebhookStats, 3> kWebhookStats{{
    {"deliveries", counter_ref<&WebhookStats::deliveries>, Merge::sum, "flowguard_webhook_deliveries_total",
     MetricType::counter, "Alerts a webhook receiver accepted (2xx)."},
    {"spool_depth", counter_ref<&WebhookStats::spool_depth>, Merge::sum, "flowguard_webhook_spool_depth",
     MetricType::gauge, "Alerts waiting in a webhook's disk spool."},
    {"spool_drops", counter_ref<&WebhookStats::spool_drops>, Merge::sum, "flowguard_webhook_spool_drops_total",
     MetricType::counter, "Alerts not spooled for a webhook (spool full or not writable)."},
}};

void append_webhook_metric_specs(std::vector<MetricSpec>& catalog);

// Every configured webhook with its spool and delivery thread: the alert sink named "webhooks".
class WebhookDispatcher final : public AlertSink {
public:
    // Throws std::runtime_error (bad URL, unusable spool directory) before any thread starts.
    explicit WebhookDispatcher(const AlertsConfig& config);
    ~WebhookDispatcher() override;  // stop()
    WebhookDispatcher(const WebhookDispatcher&) = delete;
    WebhookDispatcher& operator=(const WebhookDispatcher&) = delete;

    std::string_view name() const override { return "webhooks"; }
    void publish(std::span<const Alert> alerts) override;  // spools each alert for every webhook that wants it
    // Gives the spools up to `grace` to empty (alerts raised while draining), then ends the delivery
    // threads after their current attempt; what is left stays on disk for the next start.
    void stop(std::chrono::nanoseconds grace = std::chrono::nanoseconds::zero());
    std::vector<WebhookStats> stats() const;
    bool empty() const noexcept { return hooks_.empty(); }
    // Every configured webhook (config caps them at 32), with every failure reason it has seen.
    void write_metrics(MetricSink& sink) const;
    // The summary's `webhooks` array: name, deliveries, failures by reason, spool_depth, spool_drops.
    boost::json::array summarize() const;

private:
    struct Hook;
    void deliver(Hook& hook);

    std::uint64_t retry_max_ns_;
    std::vector<std::unique_ptr<Hook>> hooks_;
    std::atomic<bool> stopping_{false};
};

}  // namespace flowguard::exporters
