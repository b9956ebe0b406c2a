#pragma once
// DNS beaconing (T1071.004): a client querying one registered domain on a schedule, whatever the subdomain
// (SUNBURST's generated names under avsvmcloud.com, DNS tunnels, C2 that checks in over TXT). One series per
// (client, registered domain), scored by BeaconSeries without sizes; A and AAAA queries and retries within 2 s
// count once. Resolvers forwarding their clients' queries and allow-listed domains are left out.
#include <flowguard/analyzer/beacon_series.hpp>
#include <flowguard/analyzer/detector.hpp>

namespace flowguard::analyzer {

class DnsBeaconDetector final : public Detector {
public:
    explicit DnsBeaconDetector(const BeaconConfig& config) : series_(config, false) {}
    std::string_view name() const override { return "dns_beacon"; }
    void write_metrics(MetricSink& sink) const override;
    void on_dns(const DnsBatchView& batch, AlertOut& out) override;
    void finish(const PassiveDns& context, AlertOut& out) override;
    DetectorStats stats() const override { return series_.stats(); }

private:
    BeaconSeries series_;
};

}  // namespace flowguard::analyzer
