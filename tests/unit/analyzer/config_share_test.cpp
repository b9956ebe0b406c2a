// The analyzer's process-wide caps divided between shards (the lateral stage, one global view, stays whole).
#include <flowguard/analyzer/config.hpp>

#include <doctest/doctest.h>

using namespace flowguard;

TEST_CASE("the detectors' and passive DNS's caps are divided between shards") {
    AnalyzerConfig config;
    config.beacon.max_series = 1000;
    config.max_resolved = 999;
    const auto share = share_per_shard(config, 4);
    CHECK(share.beacon.max_series == 250);
    CHECK(share.beacon.max_connections == config.beacon.max_connections / 4);
    CHECK(share.max_resolved == 249);
    CHECK(analyzer::passive_dns_config(share).max_resolved == 249);
    CHECK(share.lateral.max_edges == config.lateral.max_edges);
    CHECK(share_per_shard(config, 0).beacon.max_series == 1000);
    config.beacon.max_series = 3;
    CHECK(share_per_shard(config, 8).beacon.max_series == 1);
}
