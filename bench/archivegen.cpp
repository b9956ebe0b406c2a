// archivegen: writes an archive of nfcapd files (flowguard's writer, as `collect --archive` would) for the query
// benchmark (bench/query-speed.sh), without a collector in the way.
//
//   archivegen --flows 20000000 --output DIR [--seed 1] [--hours 24] [--interval 300] [--compression lz4]
//
// Traffic model: 4,000 clients in 10.0.0.0/12 (a tenth IPv6) talk to 20,000 servers, popular ones much more
// than the rest (Zipf-like); TCP 65%, UDP 30%, ICMP 5%; server ports from a short list with a long tail;
// heavy-tailed packet counts; four exporters (observation domains) with 16 interfaces each. Flows are spread
// evenly over `hours`, one file per `interval`, as a collector would rotate them. Deterministic for a seed.
#include <flowguard/core/clock.hpp>
#include <flowguard/exporters/archive.hpp>
#include <flowguard/exporters/nfdump_file.hpp>

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

namespace {

using namespace flowguard;

constexpr std::uint16_t kPorts[] = {443, 443, 443, 443, 80, 80, 53, 53, 123, 22, 445, 3389, 8080, 25, 993, 5223};

IpAddress v4(std::uint32_t a) {
    return IpAddress::from_v4(a);
}

IpAddress v6(std::uint64_t hi, std::uint64_t lo) {
    std::uint8_t b[16];
    for (int i = 0; i < 8; ++i) {
        b[i] = static_cast<std::uint8_t>(hi >> (56 - 8 * i));
        b[8 + i] = static_cast<std::uint8_t>(lo >> (56 - 8 * i));
    }
    return IpAddress::from_v6_bytes(b);
}

class FlowModel {
public:
    explicit FlowModel(std::uint64_t seed) : rng_(seed) {}

    FlowRecord next(std::uint64_t when_ns) {
        FlowRecord r;
        const bool ipv6 = unit_(rng_) < 0.1;
        const auto client_id = static_cast<std::uint32_t>(rng_() % 4000);
        const auto server_id = static_cast<std::uint32_t>(std::pow(20000.0, unit_(rng_)));  // popular ones first
        IpAddress client = ipv6 ? v6(0x20010db800010000ull, client_id + 1) : v4(0x0a000000u + client_id * 7 + 1);
        IpAddress server = ipv6 ? v6(0x20010db800020000ull, server_id + 1) : v4(0xc6336400u + server_id * 13 + 1);
        const double kind = unit_(rng_);
        r.proto = kind < 0.65 ? 6 : kind < 0.95 ? 17 : (ipv6 ? 58 : 1);
        std::uint16_t server_port =
            unit_(rng_) < 0.9 ? kPorts[rng_() % std::size(kPorts)] : static_cast<std::uint16_t>(1 + rng_() % 65535);
        std::uint16_t client_port = static_cast<std::uint16_t>(1024 + rng_() % 64000);
        if (r.is_icmp()) server_port = client_port = 0;
        const bool outbound = unit_(rng_) < 0.6;
        r.src_addr = outbound ? client : server;
        r.dst_addr = outbound ? server : client;
        r.src_port = outbound ? client_port : server_port;
        r.dst_port = outbound ? server_port : client_port;
        r.etype = ipv6 ? kEtherTypeIPv6 : kEtherTypeIPv4;
        r.packets = 1 + static_cast<std::uint64_t>(std::exp(3.0 * unit_(rng_) * unit_(rng_) * 3.0));
        r.bytes = r.packets * (40 + rng_() % 1400);
        r.tcp_flags =
            r.proto == 6 ? static_cast<std::uint8_t>(0x10 | (rng_() % 2 ? 0x02 : 0) | (rng_() % 3 ? 0x01 : 0)) : 0;
        const auto exporter = static_cast<std::uint32_t>(rng_() % 4);
        r.type = FlowType::ipfix;
        r.sampler_address = v4(0xc0000201u + exporter);
        r.observation_domain_id = exporter;
        r.in_if = 1 + static_cast<std::uint32_t>(rng_() % 16);
        r.out_if = 1 + static_cast<std::uint32_t>(rng_() % 16);
        r.src_as = outbound ? 0 : 64500 + server_id % 50;
        r.dst_as = outbound ? 64500 + server_id % 50 : 0;
        r.time_flow_end_ns = when_ns;
        r.time_flow_start_ns = when_ns - std::min<std::uint64_t>(when_ns, (rng_() % 60'000) * 1'000'000ull);
        r.time_received_ns = when_ns + 1'000'000'000ull;
        return r;
    }

private:
    std::mt19937_64 rng_;
    std::uniform_real_distribution<double> unit_{0.0, 1.0};
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{"archivegen: an archive of nfcapd files for the query benchmark"};
    std::uint64_t flows = 1'000'000;
    std::string output;
    std::uint64_t seed = 1;
    double hours = 24;
    std::uint64_t interval_s = 300;
    std::string compression = "lz4";
    cli.add_option("--flows", flows, "flow records in all");
    cli.add_option("--output", output, "directory (created)")->required();
    cli.add_option("--seed", seed);
    cli.add_option("--hours", hours, "time the flows span, ending now");
    cli.add_option("--interval", interval_s, "seconds per file");
    cli.add_option("--compression", compression)->check(CLI::IsMember({"lz4", "none"}));
    CLI11_PARSE(cli, argc, argv);

    std::filesystem::create_directories(output);
    const auto span_ns = static_cast<std::uint64_t>(hours * 3600.0) * kSecondNs;
    const std::uint64_t interval_ns = interval_s * kSecondNs;
    const std::uint64_t end_ns = wall_clock_ns() / interval_ns * interval_ns;
    const std::uint64_t start_ns = end_ns - span_ns;
    const auto mode = compression == "lz4" ? exporters::NfdumpCompression::lz4 : exporters::NfdumpCompression::none;
    FlowModel model(seed);
    std::unique_ptr<exporters::NfdumpFileWriter> file;
    std::uint64_t file_start = 0;
    for (std::uint64_t i = 0; i < flows; ++i) {
        const auto when = start_ns + static_cast<std::uint64_t>(static_cast<double>(span_ns) * static_cast<double>(i) /
                                                                static_cast<double>(flows));
        const std::uint64_t interval = when / interval_ns * interval_ns;
        if (!file || interval != file_start) {
            if (file) file->close();
            file_start = interval;
            file = std::make_unique<exporters::NfdumpFileWriter>(
                (std::filesystem::path(output) / exporters::archive_file_name(interval)).string(), mode);
        }
        file->append(model.next(when));
    }
    if (file) file->close();
    std::printf("{\"flows\":%llu}\n", static_cast<unsigned long long>(flows));
    return 0;
}
