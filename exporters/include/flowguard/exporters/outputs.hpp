#pragma once
// Outputs opened by name from the configuration: a flow output (format x transport: `output.format` json, csv
// or none, to `output.path` "-" or a file) and the alert outputs (the alert log and `alerts.webhooks`). The
// command wiring asks for stages and sinks; formats and transports are chosen here.
#include <flowguard/core/stage.hpp>
#include <flowguard/exporters/config.hpp>
#include <flowguard/exporters/finding_ledger.hpp>
#include <flowguard/exporters/flow_format.hpp>
#include <flowguard/exporters/line_output.hpp>
#include <flowguard/exporters/webhook.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace flowguard::exporters {

// On SIGTERM (or the end of `analyze`), alerts raised while draining get this long to reach their webhooks;
// the rest stay spooled for the next start.
inline constexpr std::chrono::seconds kWebhookShutdownGrace{5};

class FlowOutput {
public:
    FlowOutput() = default;  // none
    // Throws std::runtime_error naming the target it could not open, or the format it does not know.
    static FlowOutput open(const std::string& format, const std::string& target);
    // A stage writing into it (one per shard); null when there is no output.
    std::unique_ptr<Stage> stage() const;
    std::uint64_t written() const { return lines_ ? lines_->lines_written() : 0; }
    std::uint64_t lost() const { return lines_ ? lines_->lines_lost() : 0; }
    bool failed() const { return lines_ && lines_->failed(); }
    void reopen() const;  // SIGHUP: log rotation
    void write_metrics(MetricSink& sink) const;

private:
    const FlowLineFormat* format_ = nullptr;
    std::unique_ptr<LineOutput> lines_;
};

class AlertOutputs {
public:
    AlertOutputs() = default;  // none
    // The alert log to `target` ("-" or a file) and every webhook of `config`, behind the finding ledger
    // (finding_ledger.hpp), which keeps `alerts.state_file` only when `keep_state` (the daemon, not `analyze`).
    // `also` are further outputs behind the ledger (the archive's alert files).
    // Throws std::runtime_error (an alert log that cannot be opened, a bad webhook URL or spool directory).
    static AlertOutputs open(const std::string& target, const AlertsConfig& config, bool keep_state = false,
                             const std::vector<AlertSink*>& also = {});
    std::vector<AlertSink*> sinks() const;  // the ledger
    std::uint64_t written() const { return log_ ? log_->alerts_written() : 0; }
    std::uint64_t lost() const { return lines_ ? lines_->lines_lost() : 0; }  // the alert log's failed writes
    void reopen() const;                                                      // SIGHUP: log rotation
    void write_metrics(MetricSink& sink) const;
    const WebhookDispatcher* webhooks() const { return webhooks_.get(); }
    void stop() const;  // saves the ledger; gives webhooks kWebhookShutdownGrace to deliver what is spooled
    const FindingLedger* ledger() const { return ledger_.get(); }

private:
    std::unique_ptr<LineOutput> lines_;
    std::unique_ptr<AlertLog> log_;
    std::unique_ptr<WebhookDispatcher> webhooks_;
    std::unique_ptr<FindingLedger> ledger_;  // declared last: destroyed first, while its outputs still exist
};

}  // namespace flowguard::exporters
