#include <flowguard/exporters/outputs.hpp>

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <stdexcept>

namespace flowguard::exporters {

FlowOutput FlowOutput::open(const std::string& format, const std::string& target) {
    FlowOutput out;
    if (format == "none") return out;
    out.format_ = find_flow_format(format);
    if (out.format_ == nullptr)
        throw std::runtime_error("output format '" + format + "' is not one of " + flow_format_names());
    const std::string header = out.format_->header.empty() ? "" : std::string(out.format_->header) + "\n";
    out.lines_ = std::make_unique<LineOutput>("flows", open_line_transport(target, header));
    return out;
}

std::unique_ptr<Stage> FlowOutput::stage() const {
    if (!lines_) return nullptr;
    return std::make_unique<FlowOutputStage>(*format_, *lines_);
}

void FlowOutput::reopen() const {
    if (lines_) lines_->reopen();
}

void FlowOutput::write_metrics(MetricSink& sink) const {
    if (lines_) lines_->write_metrics(sink);
}

namespace {

std::string host_name() {
    char name[256] = {};
    if (gethostname(name, sizeof(name) - 1) != 0) return "flowguard";
    return name;
}

}  // namespace

AlertOutputs AlertOutputs::open(const std::string& target, const AlertsConfig& config, bool keep_state,
                                const std::vector<AlertSink*>& also) {
    AlertOutputs out;
    out.lines_ = std::make_unique<LineOutput>("alerts", open_line_transport(target));
    out.log_ = std::make_unique<AlertLog>(*out.lines_, config.format);
    std::vector<AlertSink*> outputs{out.log_.get()};
    if (!config.webhooks.empty()) {
        out.webhooks_ = std::make_unique<WebhookDispatcher>(config);
        outputs.push_back(out.webhooks_.get());
        for (const auto& w : config.webhooks)
            spdlog::info("webhook {} ({}): alerts of severity {} and above to {}, spooled in {}/{}", w.name, w.kind,
                         w.min_severity, w.url, config.spool_dir, w.name);
    }
    outputs.insert(outputs.end(), also.begin(), also.end());
    LedgerSettings settings{keep_state ? config.state_file : std::string{}, config.resolve_after_ns, config.max_open,
                            config.sensor.empty() ? host_name() : config.sensor};
    out.ledger_ = std::make_unique<FindingLedger>(std::move(settings), std::move(outputs));
    return out;
}

std::vector<AlertSink*> AlertOutputs::sinks() const {
    if (!ledger_) return {};
    return {ledger_.get()};
}

void AlertOutputs::reopen() const {
    if (lines_) lines_->reopen();
}

void AlertOutputs::write_metrics(MetricSink& sink) const {
    if (lines_) lines_->write_metrics(sink);
    if (ledger_) ledger_->write_metrics(sink);
}

void AlertOutputs::stop() const {
    if (ledger_) ledger_->save();
    if (webhooks_) webhooks_->stop(kWebhookShutdownGrace);
}

}  // namespace flowguard::exporters
