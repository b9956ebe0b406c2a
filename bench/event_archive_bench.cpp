// CPU and bytes of archiving passive DNS events (exporters/event_archive.hpp): DNS responses built from real
// names (the SUNBURST passive-DNS names of tests/fixtures, and ordinary ones) with varied clients, resolvers,
// answers, CNAME chains and TTLs, written through the archive's writer with its clock moving at --rate events
// per second. Prints one JSON object: writer CPU per event, gzip'd bytes per event, JSON bytes per event.
//   event_archive_bench [--events N] [--rate R] [--names FILE] [--dir DIR]
#include <flowguard/exporters/archive.hpp>
#include <flowguard/exporters/dns_format.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

using namespace flowguard;

namespace {

double thread_cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_THREAD, &usage);
    return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

std::vector<std::string> load_names(const std::string& path) {
    std::vector<std::string> names{
        "www.google.com", "outlook.office365.com", "update.microsoft.com", "api.github.com",
        "slack.com",      "edge.example-cdn.net",  "time.windows.com",     "login.microsoftonline.com"};
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);)
        if (!line.empty() && line.find(' ') == std::string::npos) names.push_back(line);
    return names;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"archive passive DNS events: CPU and bytes per event"};
    std::size_t events = 2'000'000;
    std::uint64_t rate = 10'000;
    std::string names_path = "tests/fixtures/sunburst/bambenek-uniq-hostnames.txt";
    std::string dir = "/tmp/event-archive-bench";
    app.add_option("--events", events);
    app.add_option("--rate", rate, "DNS events per second of the writer's clock");
    app.add_option("--names", names_path);
    app.add_option("--dir", dir);
    CLI11_PARSE(app, argc, argv);

    const auto names = load_names(names_path);
    std::mt19937_64 random(42);
    std::vector<DnsEvent> batch(4096);
    std::filesystem::remove_all(dir);
    std::filesystem::remove_all(dir + ".events");
    ArchiveConfig config;
    config.path = dir;
    exporters::ArchiveWriter writer(config);
    const std::uint64_t t0 = 1'764'000'000ull * 1'000'000'000ull;
    writer.open(t0);
    std::uint64_t json_bytes = 0;
    fmt::memory_buffer line;
    double cpu = 0;
    for (std::size_t done = 0; done < events; done += batch.size()) {
        for (std::size_t i = 0; i < batch.size(); ++i) {
            auto& e = batch[i];
            e = DnsEvent{};
            e.time_ns = t0 + (done + i) * 1'000'000'000ull / rate;
            e.client = IpAddress::from_v4(0x0A000000u + static_cast<std::uint32_t>(random() % 2000));
            e.server = IpAddress::from_v4(0x0A000035u + static_cast<std::uint32_t>(random() % 3));
            e.client_port = static_cast<std::uint16_t>(1024 + random() % 60000);
            e.id = static_cast<std::uint16_t>(random());
            e.response = true;
            e.qtype = random() % 4 == 0 ? 28 : 1;
            e.qname.assign(names[random() % names.size()]);
            if (random() % 5 == 0) e.rcode = 3;  // NXDOMAIN: DGA names mostly get these
            if (e.rcode == 0) {
                if (random() % 3 == 0)
                    e.cnames[e.cname_count++].assign("edge" + std::to_string(random() % 50) + ".cdn.net");
                e.address_count = static_cast<std::uint8_t>(1 + random() % 4);
                for (std::uint8_t a = 0; a < e.address_count; ++a) {
                    e.addresses[a] = IpAddress::from_v4(static_cast<std::uint32_t>(random()));
                    e.ttls[a] = static_cast<std::uint32_t>(30 + random() % 3600);
                }
                e.min_ttl = e.ttls[0];
            }
            line.clear();
            exporters::append_dns_json(line, e);
            json_bytes += line.size();
        }
        const double before = thread_cpu_seconds();
        writer.write_dns(batch, batch.back().time_ns);
        writer.tick(batch.back().time_ns);
        cpu += thread_cpu_seconds() - before;
    }
    const double before = thread_cpu_seconds();
    writer.close();
    cpu += thread_cpu_seconds() - before;
    const auto stats = writer.stats();
    std::uint64_t stored = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir + ".events")) stored += entry.file_size();
    const auto n = static_cast<double>(stats.dns_written);
    fmt::print(
        "{{\"events\":{},\"files\":{},\"writer_ns_per_event\":{:.0f},\"stored_bytes_per_event\":{:.1f},"
        "\"json_bytes_per_event\":{:.1f},\"names\":{}}}\n",
        stats.dns_written, stats.files_written, cpu * 1e9 / n, static_cast<double>(stored) / n,
        static_cast<double>(json_bytes) / n, names.size());
    std::filesystem::remove_all(dir);
    std::filesystem::remove_all(dir + ".events");
    return stats.events_lost == 0 ? 0 : 1;
}
