#pragma once
// One receive thread of the collector: a pipeline source. It owns one SO_REUSEPORT socket per listener (the
// kernel keeps each exporter's 4-tuple on one socket, hence on one thread, so template state needs no locks),
// reads with recvmmsg in batches, decodes in place, and delivers each datagram's records (and the DNS
// messages found in its sFlow packet samples) to the pipeline, which routes them to the shards.
#include <flowguard/collector/config.hpp>
#include <flowguard/collector/flow_decoder.hpp>
#include <flowguard/collector/port_guard.hpp>
#include <flowguard/collector/receive_pacer.hpp>
#include <flowguard/core/counters.hpp>
#include <flowguard/core/dns_event.hpp>
#include <flowguard/core/stage.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace flowguard::collector {

// Counters of one receive thread, written by that thread; others read the copy it publishes.
struct ReceiveCounters {
    std::uint64_t datagrams = 0;
    std::uint64_t bytes = 0;
    std::uint64_t records = 0;
    std::uint64_t kernel_drops = 0;  // SO_RXQ_OVFL / SO_MEMINFO: datagrams the kernel dropped on our sockets
    std::uint64_t receive_errors = 0;
    std::uint64_t truncated = 0;   // datagrams longer than collector.max_datagram: not decoded
    std::uint64_t dns_events = 0;  // DNS messages found in sFlow packet samples
};

inline constexpr CounterTable<ReceiveCounters, 7> kReceiveCounters{{
    {"", counter_ref<&ReceiveCounters::datagrams>},
    {"", counter_ref<&ReceiveCounters::bytes>},
    {"", counter_ref<&ReceiveCounters::records>},
    {"kernel_drops", counter_ref<&ReceiveCounters::kernel_drops>, Merge::sum, "flowguard_kernel_drops_total",
     MetricType::counter, "Datagrams the kernel dropped on flowguard's sockets (SO_RXQ_OVFL)."},
    {"truncated_datagrams", counter_ref<&ReceiveCounters::truncated>, Merge::sum, "flowguard_truncated_datagrams_total",
     MetricType::counter, "Datagrams longer than collector.max_datagram, not decoded."},
    {"receive_errors", counter_ref<&ReceiveCounters::receive_errors>},
    {"", counter_ref<&ReceiveCounters::dns_events>},  // in flowguard_dns_messages_total, with the meter's
}};
static_assert(sizeof(ReceiveCounters) == sizeof(std::uint64_t) * kReceiveCounters.size());

// What a receive thread publishes (once a second, and at the end of run()).
struct ReceiverSnapshot {
    ReceiveCounters counters;
    DecoderSnapshot decoder;
};

// Drops a socket's 32-bit drop counter moved on from `last` to `observed`. The counter is read two ways
// (an SO_RXQ_OVFL stamp, taken when its datagram was queued, and SO_MEMINFO, live), so a reading can be
// older than the last one: those count 0, not ~2^32. Forward moves count across the 32-bit wrap.
constexpr std::uint32_t kernel_drops_since(std::uint32_t last, std::uint32_t observed) noexcept {
    const auto ahead = static_cast<std::int32_t>(observed - last);
    return ahead > 0 ? static_cast<std::uint32_t>(ahead) : 0;
}

class UdpReceiver final : public Source {
public:
    explicit UdpReceiver(const CollectorConfig& config);
    ~UdpReceiver() override;
    UdpReceiver(const UdpReceiver&) = delete;
    UdpReceiver& operator=(const UdpReceiver&) = delete;

    // Opens and binds one socket per listener. Throws std::system_error naming the listener. Returns
    // warnings for the operator (e.g. a receive buffer capped by net.core.rmem_max).
    std::vector<std::string> open(const std::vector<ListenEndpoint>& listeners);
    // The UDP port listener `index` is bound to (what the kernel chose for port 0); 0 if not open.
    std::uint16_t bound_port(std::size_t index) const;
    // The inodes of this receiver's sockets, as /proc/net/udp lists them (PortGuard tells ours from others).
    std::vector<std::uint64_t> socket_inodes() const;

    std::string_view kind() const override { return "recv"; }
    // Receives until `stop` is set, then reads what the sockets still hold, hands over every record and
    // counts what is still pending a template. Call from the receive thread.
    void run(const std::atomic<bool>& stop, RecordSink& sink) override;

    FlowDecoder& decoder() noexcept { return decoder_; }
    const FlowDecoder& decoder() const noexcept { return decoder_; }
    // The counters as of the last publication (every second, and at the end of run()): safe to call from any
    // thread; the receive thread takes the lock once a second, never per datagram.
    ReceiverSnapshot published() const;

private:
    struct Socket;
    std::size_t read_burst(Socket& socket, int flags);
    void read_drop_counter(Socket& socket);
    void note_kernel_drops(Socket& socket, std::uint32_t observed);
    void run_polling(const std::atomic<bool>& stop);
    void run_blocking(const std::atomic<bool>& stop);
    void housekeeping(std::uint64_t now);
    void nap_after(std::size_t datagrams, bool slots_filled, std::uint64_t now);

    CollectorConfig config_;
    RecordSink* sink_ = nullptr;  // set for the time of run()
    FlowDecoder decoder_;
    std::vector<std::unique_ptr<Socket>> sockets_;
    ReceivePacer pacer_{0, 1, 0};  // set up once the sockets are open
    std::vector<FlowRecord> decoded_;
    std::vector<DnsEvent> sampled_dns_;  // DNS messages in the current datagram's sFlow packet samples
    struct Buffers;
    std::unique_ptr<Buffers> buffers_;
    ReceiveCounters counters_;
    std::uint64_t last_expiry_ns_ = 0;
    std::uint64_t last_publish_ns_ = 0;
    mutable std::mutex published_mutex_;
    ReceiverSnapshot published_;
    void publish_stats();
};

// A collector's receive threads: `threads` receivers, each with its own SO_REUSEPORT socket on every listener
// (the kernel spreads exporters over them, keeping each on one). The first one's warnings are logged. Throws
// std::system_error naming the listener (a port in use, or held by another socket whose SO_REUSEPORT group we
// would join: port_guard.hpp; an address not on this host).
std::vector<std::unique_ptr<UdpReceiver>> open_receivers(const CollectorConfig& config, std::size_t threads);
// The guard of the receivers' ports: their listeners with the bound ports and every socket they opened.
PortGuard guard_ports(const CollectorConfig& config, const std::vector<const UdpReceiver*>& receivers);

}  // namespace flowguard::collector
