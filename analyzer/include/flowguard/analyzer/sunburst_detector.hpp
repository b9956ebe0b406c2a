#pragma once
// SUNBURST (the SolarWinds Orion backdoor, T1195.002): each avsvmcloud.com name a client looks up is decoded
// (sunburst.hpp: victim GUID, the victim's domain in fragments, the security products it reports, stage 2) and
// raised as a critical alert naming the client; fragments are reassembled into the victim's domain across
// names; a CNAME answer (the stage-2 C2 domain handed out) is reported on its own. Fragments may come in any
// order: until the domain is complete the alert says what is known (a lone last fragment is only a tail, or a
// short domain), and the finding is updated (same id, status `updated`) when it completes.
#include <flowguard/analyzer/detector.hpp>
#include <flowguard/analyzer/sunburst.hpp>

#include <string>
#include <unordered_map>

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
    // The victim domain as known now, into the alert's evidence; the domain when it is assembled, else "".
    std::string describe_victim_domain(std::uint64_t guid, Alert& alert) const;

    struct Reported {
        std::uint64_t first_seen_ns = 0;
        std::string domain;  // as last reported assembled ("" while it was not)
    };
    SunburstDomainAssembler domains_;
    std::unordered_map<std::string, Reported> reported_;  // by dedup key: updated when the domain completes
    SunburstCounters counters_;
};

}  // namespace flowguard::analyzer
