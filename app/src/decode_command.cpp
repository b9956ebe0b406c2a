// flowguard decode CAPTURE...: flow exports in capture files, decoded into flow lines on stdout.
#include "commands.hpp"
#include "wiring.hpp"

#include <flowguard/collector/capture_file_source.hpp>
#include <flowguard/collector/report.hpp>
#include <flowguard/pipeline/runner.hpp>

#include <spdlog/spdlog.h>

namespace flowguard::app {

int run_decode(const Config& config, const DecodeOptions& options) {
    const auto output = FlowOutput::open(options.format, "-");
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(output.stage());
    pipeline::Runner runner(std::move(stages), {});
    collector::CaptureFileCounters counters;
    collector::CaptureFileSource source(options.captures, config.collector, config.meter,
                                        {collector::CaptureContent::exports, options.port, {}}, counters);
    runner.run(source);
    runner.finish();
    int rc = source.failed() ? 1 : 0;
    if (output.failed()) {
        spdlog::error("writing failed: {} records lost (the reason is logged above)", output.lost());
        rc = 1;
    }
    boost::json::object summary;
    const collector::FlowDecoder* decoders[] = {&source.decoder()};
    collector::add_decoder_summary(summary, decoders);
    collector::add_receiver_summary(summary, {});
    runner.summarize(summary);
    summary["records_written"] = output.written();
    summary["capture"] =
        collector::capture_summary(source.capture_stats(), counters.skipped_by_port, counters.damaged_files);
    print_summary(summary);
    return rc;
}

}  // namespace flowguard::app
