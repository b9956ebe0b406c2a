#pragma once
// The daemon's metrics: at each scrape, read what the receive threads and shards published (each once a
// second, under its own small lock) and write it through the metric catalogue. The hot paths never see a
// Prometheus object.
#include "pipeline.hpp"

#include <flowguard/exporters/metrics.hpp>
#include <flowguard/exporters/traffic_stats.hpp>
#include <flowguard/exporters/webhook.hpp>

namespace flowguard::app {

// `webhooks` may be null (no webhook configured, or no detectors).
exporters::MetricsProvider make_metrics_provider(const Pipeline& pipeline, const Config& config,
                                                 const exporters::ApplicationMap& applications,
                                                 const exporters::WebhookDispatcher* webhooks);

}  // namespace flowguard::app
