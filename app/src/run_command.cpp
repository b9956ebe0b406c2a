// `flowguard run`: the daemon. Collectors (NetFlow/IPFIX/sFlow listeners), the detectors on every shard,
// the traffic metrics and the Prometheus endpoint, from one YAML configuration or, without one, from the
// embedded default: listen on 2055/4739/6343, metrics on 127.0.0.1:9465, alerts as JSON lines on stdout,
// no flow records written. It is `collect` with detectors and metrics always on; a span-port meter
// (meter.interface or --interface) feeds the same shards with metered flows and passive DNS.
#include "commands.hpp"
#include "wiring.hpp"

#include <flowguard/exporters/metrics.hpp>

#include <spdlog/spdlog.h>

#include <cstdio>

namespace flowguard::app {

int run_daemon(Config config, const RunOptions& options) {
    if (!config.output.configured) config.output.format = "none";  // alerts own stdout by default
    if (options.metrics_listen) config.metrics.listen = *options.metrics_listen;
    if (options.alerts) config.alerts.path = *options.alerts;
    if (config.output.format != "none" && config.output.path == "-" && config.alerts.path == "-") {
        // (check-config's output always has an output section: a copy of it must still run)
        spdlog::warn("output.path and alerts.path are both stdout: flow records are not written (set output.path)");
        config.output.format = "none";
    }
    if (options.config_path.empty())
        spdlog::info("no --config: running on the embedded default (flowguard check-config shows it)");
    CollectOptions collect;
    collect.listen = options.listen;
    collect.alerts = config.alerts.path;
    collect.metrics = true;
    collect.interface = options.interface;
    collect.config_path = options.config_path;
    collect.bpf_filter = options.bpf_filter;
    return run_collect(std::move(config), collect);
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
