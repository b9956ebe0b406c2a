#include <flowguard/collector/capture_file_source.hpp>
#include <flowguard/collector/packet_parser.hpp>
#include <flowguard/collector/span_meter.hpp>
#include <flowguard/core/ordered_batch.hpp>

#include <spdlog/spdlog.h>

namespace flowguard::collector {
namespace {

constexpr std::uint64_t kProgressEvery = 1u << 20;

// DNS first on port 53: a DNS message whose transaction id reads as an export version (5, 9, 10) belongs to
// passive DNS, whatever the decoder might make of it.
bool is_dns_message(const PacketView& p) {
    if (p.src_port != 53 && p.dst_port != 53) return false;
    DnsEvent scratch;
    return extract_dns(p, 0, scratch) == DnsExtract::ok;
}

bool looks_like_flow_export(const PacketView& p) {
    return p.proto == 17 && p.fragment == FragmentKind::none && !is_dns_message(p) &&
           is_flow_export({p.payload, p.payload_length});
}

}  // namespace

CaptureFileSource::CaptureFileSource(std::vector<std::string> paths, const CollectorConfig& collector,
                                     const MeterConfig& meter, CaptureFileOptions options,
                                     CaptureFileCounters& counters)
    : paths_(std::move(paths)),
      collector_config_(collector),
      meter_config_(meter),
      options_(std::move(options)),
      counters_(counters) {}

CaptureFileSource::~CaptureFileSource() = default;

void CaptureFileSource::run(const std::atomic<bool>& stop, RecordSink& sink) {
    OrderedBatch batch(sink);
    const bool dns = sink.wants_dns();
    if (options_.content == CaptureContent::exports) {
        decoder_ = std::make_unique<FlowDecoder>(collector_config_);
        for (const auto& path : paths_) read_exports(path, stop, batch);
        decoder_->finish();
    } else {
        // `analyze` starts each file afresh (one capture is one network's traffic); `meter` reads its files as
        // one capture.
        const bool per_file = options_.content == CaptureContent::mixed;
        for (std::size_t i = 0; i < paths_.size(); ++i) {
            if (per_file || !meter_) {
                meter_ = std::make_unique<SpanMeter>(meter_config_, IpAddress{});
                decoder_ = std::make_unique<FlowDecoder>(collector_config_);
                if (dns) {
                    // DNS answers carried in sFlow packet samples feed passive DNS like those the meter sees.
                    decoder_->on_sampled_packet([this](const PacketView& p, const FlowRecord& r) {
                        DnsEvent event;
                        if (extract_dns(p, r.time_received_ns, event) == DnsExtract::ok) dns_.push_back(event);
                    });
                }
            }
            read_packets(paths_[i], i, stop, batch);
            if (per_file || i + 1 == paths_.size()) {
                const auto mark = batch.mark();
                meter_->flush(batch.flows());  // end of the capture: every open flow is reported
                decoder_->finish();
                batch.commit({}, mark, clock_ns_);
            }
        }
    }
    batch.hand_over();
    sink.tick(UINT64_MAX);
}

void CaptureFileSource::read_exports(const std::string& path, const std::atomic<bool>& stop, OrderedBatch& batch) {
    std::optional<PcapDatagramReader> reader;
    try {
        reader.emplace(path);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        failed_ = true;
        return;
    }
    ExportPacket packet;
    std::uint16_t port = 0;
    while (!stop.load(std::memory_order_relaxed) && reader->next(packet, port)) {
        if (options_.port && port != *options_.port) {
            ++counters_.skipped_by_port;
            continue;
        }
        const auto mark = batch.mark();
        decoder_->decode(packet, batch.flows());
        batch.commit({}, mark, packet.received_ns);
    }
    capture_stats_ += reader->stats();
    if (!reader->error().empty()) cut_short(path, reader->error(), reader->stats().frames);
}

// As tcpdump does: what was read before the damage counts, and the run fails, saying where the file ended.
void CaptureFileSource::cut_short(const std::string& path, const std::string& reason, std::uint64_t packets) {
    spdlog::error("{}: {} (the {} packets before it were read)", path, reason, packets);
    ++counters_.damaged_files;
    failed_ = true;
}

// `analyze`: a flow export is decoded, anything else metered.
void CaptureFileSource::classify(int link, const RawPacket& raw, const std::string& path, std::size_t index,
                                 std::vector<FlowRecord>& flows) {
    ++counters_.packets;
    PacketView view;
    if (parse_frame(link, raw.data, raw.captured, view) == ParseResult::ok && looks_like_flow_export(view)) {
        ++counters_.export_datagrams;
        decoder_->decode(ExportPacket{{view.payload, view.payload_length}, view.src, view.src_port, raw.time_ns},
                         flows);
    } else {
        meter_->process(link, raw, flows, dns_);
    }
    if (options_.progress && (counters_.packets & (kProgressEvery - 1)) == 0)
        options_.progress(path, index, paths_.size(), counters_.packets, false);
}

void CaptureFileSource::read_packets(const std::string& path, std::size_t index, const std::atomic<bool>& stop,
                                     OrderedBatch& batch) {
    const bool traffic_only = options_.content == CaptureContent::traffic;
    std::optional<PacketCapture> capture;
    try {
        capture.emplace(PacketCapture::open_file(path, traffic_only ? meter_config_.bpf_filter : std::string()));
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        failed_ = true;
        return;
    }
    if (traffic_only && !link_type_supported(capture->link_type())) {
        spdlog::error("{}: link type {} is not supported", path, capture->link_type());
        failed_ = true;
        return;
    }
    const int link = capture->link_type();
    SpanMeter& meter = *meter_;
    std::uint64_t clock = clock_ns_;  // capture time is the clock; a local, so the loop keeps it in a register
    RawPacket raw;
    std::uint64_t packets = 0;
    PacketCapture::Read read = PacketCapture::Read::end;
    while (!stop.load(std::memory_order_relaxed) && (read = capture->next(raw)) == PacketCapture::Read::packet) {
        ++packets;
        clock = std::max(clock, raw.time_ns);
        const auto mark = batch.mark();
        if (traffic_only)
            meter.process(link, raw, batch.flows(), dns_);
        else
            classify(link, raw, path, index, batch.flows());
        if (mark != batch.mark() || !dns_.empty()) {
            batch.commit(dns_, mark, clock);
            dns_.clear();
        }
    }
    clock_ns_ = clock;
    if (read == PacketCapture::Read::error) cut_short(path, capture->error(), packets);
    if (options_.progress) options_.progress(path, index, paths_.size(), counters_.packets, true);
}

}  // namespace flowguard::collector
