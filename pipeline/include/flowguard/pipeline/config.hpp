#pragma once
// The `pipeline:` section: shards, channel sizes, and the internal networks that decide which host a record
// belongs to (and so its shard).
#include <flowguard/core/config.hpp>
#include <flowguard/core/network_set.hpp>

#include <yaml-cpp/yaml.h>

#include <cstddef>

namespace flowguard {

struct PipelineConfig {
    std::size_t shards = 0;                // 0 = one per core; records of one internal host go to one shard
    std::size_t batches_per_channel = 64;  // batches in flight per (receive thread, shard) channel
    NetworkSet internal_networks = NetworkSet::private_networks();
};

void read_pipeline_config(const YAML::Node& node, PipelineConfig& out);  // throws ConfigError naming the key
void write_pipeline_config(YAML::Emitter& out, const PipelineConfig& p);

}  // namespace flowguard
