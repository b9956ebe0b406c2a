#include <flowguard/pipeline/config.hpp>

#include <fmt/format.h>

namespace flowguard {

void read_pipeline_config(const YAML::Node& n, PipelineConfig& p) {
    const std::string key = "pipeline";
    yaml::require_known_keys(n, key, {"shards", "batches_per_channel", "internal_networks"});
    if (n["shards"]) p.shards = yaml::unsigned_value(n["shards"], key + ".shards", 256);
    if (n["batches_per_channel"])
        p.batches_per_channel = yaml::unsigned_value(n["batches_per_channel"], key + ".batches_per_channel", 1u << 16);
    if (p.batches_per_channel < 2) throw ConfigError(key + ".batches_per_channel", "must be at least 2");
    if (const auto& nets = n["internal_networks"]) {
        if (!nets.IsSequence()) throw ConfigError(key + ".internal_networks", "expected a list of prefixes");
        p.internal_networks = NetworkSet{};
        for (std::size_t i = 0; i < nets.size(); ++i) {
            const auto item_key = fmt::format("{}.internal_networks[{}]", key, i);
            yaml::with_key(item_key, [&] {
                p.internal_networks.add(yaml::scalar(nets[i], item_key));
                return 0;
            });
        }
    }
}

void write_pipeline_config(YAML::Emitter& out, const PipelineConfig& p) {
    out << YAML::BeginMap << YAML::Key << "shards" << YAML::Value << p.shards << YAML::Key << "batches_per_channel"
        << YAML::Value << p.batches_per_channel << YAML::Key << "internal_networks" << YAML::Value
        << p.internal_networks.to_strings() << YAML::EndMap;
}

}  // namespace flowguard
