// Spools alerts per webhook and delivers each spool in order from its own thread, with backoff.
#include <flowguard/exporters/webhook.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <stdexcept>

namespace flowguard::exporters {
namespace {

constexpr std::uint64_t kFirstRetryNs = 1'000'000'000;

}  // namespace

struct WebhookDispatcher::Hook {
    Hook(const WebhookConfig& c, const std::filesystem::path& spool_dir, std::size_t max_spooled)
        : config(c),
          url(parse_webhook_url(c.url)),
          path(webhook_path(c)),
          min_severity(severity_from_name(c.min_severity).value_or(Severity::low)),
          spool(spool_dir / c.name, max_spooled) {}

    WebhookConfig config;
    WebhookUrl url;
    std::string path;
    Severity min_severity;
    AlertSpool spool;
    std::thread thread;
    std::mutex sleep_mutex;
    std::condition_variable sleep_wake;  // cuts a backoff short on stop

    mutable std::mutex stats_mutex;  // delivery thread and submitters write, scrapes read
    WebhookStats stats;
};

WebhookDispatcher::WebhookDispatcher(const AlertsConfig& config) : retry_max_ns_(config.retry_max_ns) {
    for (const auto& w : config.webhooks) {
        try {
            auto hook = std::make_unique<Hook>(w, config.spool_dir, config.max_spooled);
            hook->stats.name = w.name;
            hooks_.push_back(std::move(hook));
        } catch (const std::exception& e) {
            throw std::runtime_error(fmt::format("webhook '{}': {}", w.name, e.what()));
        }
    }
    for (auto& hook : hooks_) {
        if (const auto depth = hook->spool.depth())
            spdlog::info("webhook {}: {} alert(s) left in {} by a previous run will be delivered first",
                         hook->config.name, depth, hook->spool.dir().string());
        hook->thread = std::thread([this, h = hook.get()] { deliver(*h); });
    }
}

WebhookDispatcher::~WebhookDispatcher() {
    stop();
}

void WebhookDispatcher::stop(std::chrono::nanoseconds grace) {
    const auto deadline = std::chrono::steady_clock::now() + grace;
    const auto all_empty = [this] {
        return std::all_of(hooks_.begin(), hooks_.end(), [](const auto& h) { return h->spool.depth() == 0; });
    };
    while (!stopping_.load(std::memory_order_acquire) && !all_empty() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stopping_.store(true, std::memory_order_release);
    for (auto& hook : hooks_) {
        hook->spool.wake();
        { std::lock_guard lock(hook->sleep_mutex); }
        hook->sleep_wake.notify_all();
    }
    for (auto& hook : hooks_)
        if (hook->thread.joinable()) hook->thread.join();
}

void WebhookDispatcher::publish(std::span<const Alert> alerts) {
    for (auto& hook : hooks_) {
        for (const auto& alert : alerts) {
            if (alert.severity < hook->min_severity) continue;
            // Ongoing findings are re-asserted only to Alertmanager (its alerts expire unless sent again).
            if (alert.status == AlertStatus::ongoing && hook->config.kind != "alertmanager") continue;
            if (hook->spool.push(webhook_body(hook->config, alert))) continue;
            std::lock_guard lock(hook->stats_mutex);
            ++hook->stats.spool_drops;
            spdlog::error(
                "webhook {}: alert {} not spooled (spool full at {} or not writable); it is in the alerts "
                "output only",
                hook->config.name, alert.id, hook->spool.dir().string());
        }
    }
}

void WebhookDispatcher::deliver(Hook& hook) {
    std::uint64_t backoff_ns = kFirstRetryNs;
    while (!stopping_.load(std::memory_order_acquire)) {
        auto next = hook.spool.wait_oldest(stopping_);
        if (!next) break;
        const auto& [id, body] = *next;
        DeliveryResult result;
        if (body.empty()) {
            result.reason = "spool";
            result.detail = "spool file unreadable or empty";
        } else {
            const WebhookPayload payload{hook.path, body};
            const auto now = static_cast<std::uint64_t>(std::time(nullptr));
            result = http_post({hook.config.timeout_ns, hook.config.ca_file, hook.config.tls_verify}, hook.url, payload,
                               webhook_headers(hook.config, body, now));
        }
        {
            std::lock_guard lock(hook.stats_mutex);
            if (result.delivered())
                ++hook.stats.deliveries;
            else
                ++hook.stats.failures[result.reason];
        }
        if (result.delivered()) {
            hook.spool.remove(id);
            backoff_ns = kFirstRetryNs;
            continue;
        }
        if (result.permanent()) {
            spdlog::error("webhook {}: alert refused for good ({}); kept in {}/rejected", hook.config.name,
                          result.detail, hook.spool.dir().string());
            hook.spool.reject(id);
            continue;
        }
        spdlog::warn("webhook {}: delivery failed ({}: {}); retrying in {} s", hook.config.name, result.reason,
                     result.detail, backoff_ns / 1'000'000'000);
        std::unique_lock lock(hook.sleep_mutex);
        hook.sleep_wake.wait_for(lock, std::chrono::nanoseconds(backoff_ns),
                                 [&] { return stopping_.load(std::memory_order_acquire); });
        backoff_ns = std::min(backoff_ns * 2, retry_max_ns_);
    }
}

std::vector<WebhookStats> WebhookDispatcher::stats() const {
    std::vector<WebhookStats> out;
    for (const auto& hook : hooks_) {
        std::lock_guard lock(hook->stats_mutex);
        out.push_back(hook->stats);
        out.back().spool_depth = hook->spool.depth();
    }
    return out;
}

void WebhookDispatcher::write_metrics(MetricSink& sink) const {
    for (const auto& s : stats()) {
        flowguard::write_metrics(sink, s, kWebhookStats, {s.name});
        for (const auto& [reason, n] : s.failures)
            sink.add("flowguard_webhook_failures_total", {s.name, reason}, static_cast<double>(n));
    }
}

boost::json::array WebhookDispatcher::summarize() const {
    boost::json::array hooks;
    for (const auto& s : stats()) {
        boost::json::object failures;
        for (const auto& [reason, n] : s.failures) failures[reason] = n;
        boost::json::object hook{{"name", s.name}, {"failures", std::move(failures)}};
        add_to_summary(hook, s, kWebhookStats);
        hooks.push_back(std::move(hook));
    }
    return hooks;
}

void append_webhook_metric_specs(std::vector<MetricSpec>& catalog) {
    append_metric_specs(catalog, kWebhookStats, {"webhook"});
    catalog.push_back({"flowguard_webhook_failures_total",
                       MetricType::counter,
                       "Failed delivery attempts by reason: connect, timeout, tls, http_status (retried), rejected, "
                       "spool (kept in rejected/).",
                       {"webhook", "reason"}});
}

}  // namespace flowguard::exporters
