// `flowguard run`: the daemon. Collectors (NetFlow/IPFIX/sFlow listeners), the detectors on every shard,
// the traffic metrics and the Prometheus endpoint, from one YAML configuration or, without one, from the
// embedded default: listen on 2055/4739/6343, metrics on 127.0.0.1:9465, alerts as JSON lines on stdout,
// no flow records written. A span-port meter (meter.interface or --interface) feeds the same shards with
// metered flows and passive DNS.
#include "commands.hpp"
#include "wiring.hpp"

#include <flowguard/exporters/clickhouse.hpp>
#include <flowguard/exporters/webhook.hpp>

#include <spdlog/spdlog.h>

#include <cstdio>

namespace flowguard::app {

void Overrides::apply(Config& config) const {
    if (!listen.empty()) {
        config.collector.listen.clear();
        for (const auto& text : listen)
            config.collector.listen.push_back(yaml::with_key("--listen", [&] { return ListenEndpoint::parse(text); }));
    }
    if (output) config.output.path = *output;
    if (format) config.output.format = *format;
    if (state_file) config.collector.state_file = *state_file;
    if (alerts) config.alerts.path = *alerts;
    if (archive) {
        config.archive.path = *archive;
        config.archive.configured = true;
    }
    if (clickhouse) {
        config.clickhouse.url = *clickhouse;
        try {
            exporters::parse_webhook_url(config.clickhouse.url);
        } catch (const std::invalid_argument& e) {
            throw ConfigError("--clickhouse", e.what());
        }
    }
    if (metrics_listen) config.metrics.listen = *metrics_listen;
    if (interface) config.meter.interface = *interface;
    if (bpf_filter) config.meter.bpf_filter = *bpf_filter;
    if (capture_threads) config.meter.capture_threads = *capture_threads;
    if (active_timeout)
        config.meter.active_timeout_ns =
            yaml::with_key("--active-timeout", [&] { return parse_timeout_ns(*active_timeout); });
    if (idle_timeout)
        config.meter.idle_timeout_ns =
            yaml::with_key("--idle-timeout", [&] { return parse_timeout_ns(*idle_timeout); });
    if (no_dns) config.meter.dns = false;
    if (export_to) config.meter.export_to = *export_to;
}

int run_daemon(Config config, const std::string& config_path) {
    if (!config.output.configured) config.output.format = "none";  // alerts own stdout by default
    if (config_path.empty())
        spdlog::info("no --config: running on the embedded default (flowguard check-config shows it)");
    // The embedded default archives under the package's state directory; a configuration file says where
    // (archive.path), or nothing and no archive.
    const bool default_archive = config_path.empty() && !config.archive.configured;
    if (default_archive) config.archive.path = std::string(kDefaultArchive);
    return run_collect(std::move(config), {true, true, config_path, default_archive});
}

int print_clickhouse_schema(const Config& config) {
    for (const auto& statement : exporters::clickhouse_schema(config.clickhouse))
        std::printf("%s;\n\n", statement.c_str());
    return 0;
}

int print_metrics_doc(bool names_only) {
    if (names_only) {
        for (const auto& m : metric_catalog().specs())
            std::printf("%.*s\n", static_cast<int>(m.name.size()), m.name.data());
        return 0;
    }
    const auto doc = exporters::metrics_markdown(metric_catalog());
    std::fwrite(doc.data(), 1, doc.size(), stdout);
    return 0;
}

}  // namespace flowguard::app
