#include "commands.hpp"
#include "summary.hpp"

#include <flowguard/collector/flow_decoder.hpp>
#include <flowguard/collector/pcap_datagrams.hpp>
#include <flowguard/exporters/flow_format.hpp>

#include <spdlog/spdlog.h>

#include <cstdio>

namespace flowguard::app {

exporters::FlowFormat parse_flow_format(const std::string& text);

int run_decode(const Config& config, const DecodeOptions& options) {
    collector::FlowDecoder decoder(config.collector);
    exporters::FlowLineWriter writer(stdout, parse_flow_format(options.format));
    std::vector<FlowRecord> records;
    records.reserve(1024);
    collector::CaptureStats capture;
    std::uint64_t skipped_by_port = 0;
    int rc = 0;
    // Captures are decoded in the order given, as one stream: a template in the first file serves data in
    // the next, as it would have on the wire.
    for (const auto& path : options.captures) {
        std::optional<collector::PcapDatagramReader> reader;
        try {
            reader.emplace(path);
        } catch (const std::exception& e) {
            spdlog::error("{}", e.what());
            rc = 1;
            continue;
        }
        collector::ExportPacket packet;
        std::uint16_t dport = 0;
        while (reader->next(packet, dport)) {
            if (options.port && dport != *options.port) {
                ++skipped_by_port;
                continue;
            }
            records.clear();
            decoder.decode(packet, records);
            writer.write(records);
        }
        capture += reader->stats();
    }
    decoder.finish();
    if (!writer.flush()) {
        spdlog::error("writing records failed");
        rc = 1;
    }
    PipelineCounters counters;
    counters.records_written = writer.lines_written();
    counters.records_delivered = decoder.totals().records;  // decode has no rings: all are delivered
    auto summary = decoder_summary({&decoder}, counters);
    summary["capture"] = capture_summary(capture, skipped_by_port);
    print_summary(summary);
    return rc;
}

}  // namespace flowguard::app
