#pragma once
// One receive thread of the collector pipeline. It owns one SO_REUSEPORT socket per listener (the kernel
// keeps each exporter's 4-tuple on one socket, hence on one thread, so template state needs no locks),
// reads with recvmmsg in batches, decodes in place, and routes each record by its internal host to a
// shard's BatchChannel. It never blocks on a shard: when a shard holds every batch, records for it are
// dropped and counted.
#include <flowguard/collector/flow_decoder.hpp>
#include <flowguard/collector/receive_pacer.hpp>
#include <flowguard/collector/shard_router.hpp>
#include <flowguard/core/config.hpp>
#include <flowguard/core/dns_event.hpp>
#include <flowguard/core/flow_batch.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace flowguard::collector {

// Written by the receive thread only (plain load+store, no locked instructions); readable from any thread.
struct ReceiverCounters {
    std::atomic<std::uint64_t> datagrams{0};
    std::atomic<std::uint64_t> bytes{0};
    std::atomic<std::uint64_t> records{0};
    std::atomic<std::uint64_t> ring_drops{0};    // records dropped because a shard's channel was full
    std::atomic<std::uint64_t> kernel_drops{0};  // SO_RXQ_OVFL: datagrams the kernel dropped on our sockets
    std::atomic<std::uint64_t> receive_errors{0};
    std::atomic<std::uint64_t> truncated{0};   // datagrams longer than collector.max_datagram: not decoded
    std::atomic<std::uint64_t> dns_events{0};  // DNS messages found in sFlow packet samples
    std::atomic<std::uint64_t> dns_drops{0};   // DNS events dropped because a shard's DNS channel was full
};

// Drops a socket's 32-bit drop counter moved on from `last` to `observed`. The counter is read two ways
// (an SO_RXQ_OVFL stamp, taken when its datagram was queued, and SO_MEMINFO, live), so a reading can be
// older than the last one: those count 0, not ~2^32. Forward moves count across the 32-bit wrap.
constexpr std::uint32_t kernel_drops_since(std::uint32_t last, std::uint32_t observed) noexcept {
    const auto ahead = static_cast<std::int32_t>(observed - last);
    return ahead > 0 ? static_cast<std::uint32_t>(ahead) : 0;
}

class UdpReceiver {
public:
    // `channels[s]` carries this receiver's records to shard s; `dns_channels[s]` (optional) the DNS messages
    // found in sFlow packet samples.
    UdpReceiver(const CollectorConfig& config, ShardRouter router, std::vector<BatchChannel*> channels,
                std::vector<DnsChannel*> dns_channels = {});
    ~UdpReceiver();
    UdpReceiver(const UdpReceiver&) = delete;
    UdpReceiver& operator=(const UdpReceiver&) = delete;

    // Opens and binds one socket per listener. Throws std::system_error naming the listener. Returns
    // warnings for the operator (e.g. a receive buffer capped by net.core.rmem_max).
    std::vector<std::string> open(const std::vector<ListenEndpoint>& listeners);
    // The UDP port listener `index` is bound to (what the kernel chose for port 0); 0 if not open.
    std::uint16_t bound_port(std::size_t index) const;

    // Receives until `stop` is set, then reads what the sockets still hold, hands over every record and
    // counts what is still pending a template. Call from the receive thread.
    void run(const std::atomic<bool>& stop);

    FlowDecoder& decoder() noexcept { return decoder_; }
    const FlowDecoder& decoder() const noexcept { return decoder_; }
    const ReceiverCounters& counters() const noexcept { return counters_; }
    // The decoder's counters as of the last publication (every second, and at the end of run()): safe to
    // call from any thread; the receive thread takes the lock once a second, never per datagram.
    DecoderSnapshot published_stats() const;

private:
    struct Socket;
    std::size_t read_burst(Socket& socket, int flags);
    void read_drop_counter(Socket& socket);
    void note_kernel_drops(Socket& socket, std::uint32_t observed);
    void run_polling(const std::atomic<bool>& stop);
    void run_blocking(const std::atomic<bool>& stop);
    void housekeeping(std::uint64_t now);
    void route(const std::vector<FlowRecord>& records, std::uint64_t now);
    void hand_over(std::uint64_t older_than_ns);
    void nap_after(std::size_t datagrams, bool slots_filled, std::uint64_t now);

    CollectorConfig config_;
    ShardRouter router_;
    ShardBatcher<FlowBatch> flows_;
    ShardBatcher<DnsBatch> dns_;
    std::uint64_t burst_received_ns_ = 0;
    FlowDecoder decoder_;
    std::vector<std::unique_ptr<Socket>> sockets_;
    ReceivePacer pacer_{0, 1, 0};  // set up once the sockets are open
    std::vector<FlowRecord> decoded_;
    struct Buffers;
    std::unique_ptr<Buffers> buffers_;
    ReceiverCounters counters_;
    std::uint64_t last_expiry_ns_ = 0;
    std::uint64_t last_publish_ns_ = 0;
    mutable std::mutex published_mutex_;
    DecoderSnapshot published_;
    void publish_stats();
};

}  // namespace flowguard::collector
