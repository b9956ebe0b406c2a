#pragma once
// SUNBURST (the SolarWinds Orion backdoor, T1195.002): each avsvmcloud.com name a client looks up is decoded
// (sunburst.hpp: victim GUID, the victim's domain in fragments, the security products it reports, stage 2) and
// raised as a critical alert naming the client; fragments are reassembled into the victim's domain across
// names; a CNAME answer (the stage-2 C2 domain handed out) is reported on its own.
#include <flowguard/analyzer/detector.hpp>
#include <flowguard/analyzer/sunburst.hpp>

namespace flowguard::analyzer {

struct SunburstCounters {
    std::uint64_t names_decoded = 0;  // avsvmcloud.com names that decoded as SUNBURST messages
    std::uint64_t names_invalid = 0;  // avsvmcloud.com names that did not (the IOC alert covers them)
};

inline constexpr CounterTable<SunburstCounters, 2> kSunburstCounters{{
    {"", counter_ref<&SunburstCounters::names_decoded>, Merge::sum, "flowguard_sunburst_names_total",
     MetricType::counter, "avsvmcloud.com names seen, by whether they decoded as SUNBURST messages.", 1, "decoded"},
    {"", counter_ref<&SunburstCounters::names_invalid>, Merge::sum, "flowguard_sunburst_names_total",
     MetricType::counter, "avsvmcloud.com names seen, by whether they decoded as SUNBURST messages.", 1, "invalid"},
}};

class SunburstDetector final : public Detector {
public:
    SunburstDetector() : domains_(4096) {}
    std::string_view name() const override { return "sunburst"; }
    void on_dns(const DnsBatchView& batch, AlertOut& out) override;
    void write_metrics(MetricSink& sink) const override {
        flowguard::write_metrics(sink, counters_, kSunburstCounters);
    }

private:
    SunburstDomainAssembler domains_;
    SunburstCounters counters_;
};

}  // namespace flowguard::analyzer
