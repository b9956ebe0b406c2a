#include "rounding.hpp"

#include <flowguard/analyzer/dga_detector.hpp>
#include <flowguard/core/time_format.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace flowguard::analyzer {
namespace {}  // namespace

void read_dga_config(const YAML::Node& d, const std::string& dk, DgaConfig& dga) {
    yaml::require_known_keys(d, dk, {"min_unique_names", "threshold", "max_clients"});
    if (d["min_unique_names"])
        dga.min_unique_names = yaml::unsigned_value(d["min_unique_names"], dk + ".min_unique_names", 1u << 20);
    if (d["threshold"]) dga.threshold = yaml::unit_value(d["threshold"], dk + ".threshold");
    if (d["max_clients"]) dga.max_clients = yaml::unsigned_value(d["max_clients"], dk + ".max_clients", 1u << 16);
}

void write_dga_config(YAML::Emitter& out, const DgaConfig& d) {
    out << YAML::BeginMap << YAML::Key << "min_unique_names" << YAML::Value << d.min_unique_names << YAML::Key
        << "threshold" << YAML::Value << d.threshold << YAML::Key << "max_clients" << YAML::Value << d.max_clients
        << YAML::EndMap;
}

void DgaDetector::on_dns(const DnsBatchView& batch, AlertOut& out) {
    const PassiveDns& context = batch.context;
    for (std::uint32_t i = 0; i < batch.events.size(); ++i) {
        const DnsEvent& event = batch.events[i];
        const DnsNote& note = batch.notes[i];
        if (note.names_reset) states_.clear();
        if (note.skip || !note.subdomain) continue;  // a query with a label under a tracked, not allowed domain
        State& state = states_[ClientDomain{event.client, note.domain_id}];
        if (note.new_name) {  // a new name: it contributes to the lexical mean
            const auto label = std::string_view(note.name).substr(0, note.name.size() - note.domain.size() - 1);
            state.lexical_sum += lexical_score(label).score;
            ++counters_.names_scored;
        }
        // The client keeps generating names: the finding goes on (said once a minute at most).
        if (state.reported && note.new_name && event.time_ns >= state.continued_ns + AlertOut::kContinuingEveryNs) {
            state.continued_ns = event.time_ns;
            Alert ongoing;
            ongoing.kind = "dga_domain";
            ongoing.status = AlertStatus::ongoing;
            ongoing.src_addr = event.client;
            ongoing.domain = note.domain;
            ongoing.query_name = note.name;
            ongoing.first_seen_ns = note.names_first_ns;
            ongoing.last_seen_ns = event.time_ns;
            ongoing.dedup_key = fmt::format("dga:{}:{}", event.client.to_string(), note.domain);
            out.raise(std::move(ongoing), i);
        }
        if (state.decided) continue;
        const double unique = note.unique_names;
        if (unique < static_cast<double>(config_.min_unique_names)) continue;
        const double lexical = state.lexical_sum / unique;
        if (lexical < config_.threshold) continue;
        // Random-looking names many clients resolve are a CDN or a cloud service's scheme: decided once.
        state.decided = true;
        if (note.clients_of_domain > config_.max_clients) {
            ++suppressed_popular_;
            continue;
        }
        state.reported = true;
        state.continued_ns = event.time_ns;
        Alert alert;
        alert.kind = "dga_domain";
        alert.severity = Severity::high;
        alert.score = std::min(1.0, lexical);
        alert.src_addr = event.client;
        alert.domain = note.domain;
        alert.query_name = note.name;
        alert.first_seen_ns = note.names_first_ns;
        alert.last_seen_ns = event.time_ns;
        alert.techniques = {"T1568.002", "T1071.004"};
        alert.evidence["unique_names"] = std::round(unique);
        alert.evidence["queries"] = note.queries;
        alert.evidence["mean_lexical_score"] = round3(lexical);
        alert.evidence["domain_first_seen"] = format_iso8601_ms(context.domain_first_seen(note.domain_id));
        boost::json::array samples;
        if (const auto* seen = context.query_names(event.client, note.domain_id))
            for (std::size_t k = 0; k < note.samples && k < seen->sample_count; ++k)
                samples.emplace_back(seen->samples[k].view());
        alert.evidence["sample_names"] = std::move(samples);
        alert.dedup_key = fmt::format("dga:{}:{}", event.client.to_string(), note.domain);
        out.raise(std::move(alert), i);
    }
}

}  // namespace flowguard::analyzer
