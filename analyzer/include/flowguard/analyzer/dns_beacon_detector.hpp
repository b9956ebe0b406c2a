#pragma once
// DNS beaconing (T1071.004): a client querying one registered domain on a schedule, whatever the subdomain
// (SUNBURST's generated names under avsvmcloud.com, DNS tunnels, C2 that checks in over TXT). One series per
// (client, registered domain), scored by BeaconSeries without sizes; A and AAAA queries and retries within 2 s
// count once. Resolvers forwarding their clients' queries and allow-listed domains are left out.
#include <flowguard/analyzer/beacon_series.hpp>
#include <flowguard/analyzer/detector.hpp>

namespace flowguard::analyzer {

struct RelayQueries {
    std::uint64_t queries = 0;
};

inline constexpr CounterTable<RelayQueries, 1> kRelayQueries{{
    {"", counter_ref<&RelayQueries::queries>, Merge::sum, "flowguard_dns_beacon_relay_queries_total",
     MetricType::counter, "DNS queries of relays (proxies resolving for their clients): not scored as DNS beacons."},
}};

class DnsBeaconDetector final : public Detector {
public:
    // `relays`: the beacon detector's (configured and learned). A proxy resolves names for its clients, as a
    // resolver does: its queries are not a series of its own (a name many clients use is looked up again each
    // time its TTL runs out - periodic); the beacon detector attributes its connections to the clients.
    explicit DnsBeaconDetector(const BeaconConfig& config, const Relays* relays = nullptr)
        : series_(config, false), relays_(relays) {
        series_.use_relays(relays);
    }
    std::string_view name() const override { return "dns_beacon"; }
    void write_metrics(MetricSink& sink) const override;
    void on_dns(const DnsBatchView& batch, AlertOut& out) override;
    void finish(const PassiveDns& context, AlertOut& out) override;
    DetectorStats stats() const override { return series_.stats(); }

private:
    BeaconSeries series_;
    const Relays* relays_;
    std::uint64_t relay_queries_ = 0;
};

}  // namespace flowguard::analyzer
