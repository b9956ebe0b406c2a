#include "commands.hpp"
#include "summary.hpp"

#include <flowguard/collector/flow_decoder.hpp>
#include <flowguard/exporters/flow_format.hpp>

#include <boost/asio.hpp>
#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

namespace flowguard::app {

exporters::FlowFormat parse_flow_format(const std::string& text);

namespace {

namespace asio = boost::asio;
using asio::ip::udp;

constexpr std::size_t kMaxDatagram = 65535;

std::uint64_t now_ns() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

IpAddress to_ip(const asio::ip::address& a) {
    if (a.is_v4()) return IpAddress::from_v4(a.to_v4().to_uint());
    const auto v6 = a.to_v6();
    if (v6.is_v4_mapped()) return IpAddress::from_v4(asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_uint());
    const auto bytes = v6.to_bytes();
    return IpAddress::from_v6_bytes(bytes.data());
}

// The kernel's per-socket drop counter (last column of /proc/net/udp{,6}), found by the socket's inode.
std::uint64_t kernel_drops_for(int fd) {
    struct stat st {};
    if (fstat(fd, &st) != 0) return 0;
    for (const char* path : {"/proc/net/udp", "/proc/net/udp6"}) {
        std::ifstream in(path);
        std::string line;
        std::getline(in, line);  // header
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string f[13];
            for (auto& x : f) fields >> x;
            std::uint64_t drops = 0;
            fields >> drops;
            if (f[9] == std::to_string(st.st_ino)) return drops;
        }
    }
    return 0;
}

struct Listener {
    explicit Listener(asio::io_context& io) : socket(io) {}
    udp::socket socket;
    udp::endpoint sender;
    std::array<std::uint8_t, kMaxDatagram> buffer{};
    std::string name;
};

class UdpCollector {
public:
    UdpCollector(const Config& config, std::FILE* out, exporters::FlowFormat format)
        : config_(config), decoder_(config.collector), writer_(out, format), signals_(io_, SIGINT, SIGTERM),
          tick_(io_) {
        records_.reserve(1024);
    }

    void open() {
        for (const auto& ep : config_.collector.listen) {
            auto l = std::make_unique<Listener>(io_);
            const udp::endpoint local(asio::ip::make_address(ep.address), ep.port);
            l->socket.open(local.protocol());
            if (local.address().is_v6()) l->socket.set_option(asio::ip::v6_only(true));
            l->socket.set_option(asio::socket_base::reuse_address(true));
            set_receive_buffer(*l);
            l->socket.bind(local);
            l->name = ep.to_string();
            spdlog::info("listening on {}", l->name);
            listeners_.push_back(std::move(l));
        }
    }

    void run() {
        for (auto& l : listeners_) receive(*l);
        signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
            if (ec) return;
            spdlog::info("signal {}: draining and stopping", signo);
            stop();
        });
        schedule_tick();
        io_.run();
    }

    int finish() {
        decoder_.finish();
        const bool ok = writer_.flush();
        PipelineCounters counters;
        counters.records_written = writer_.lines_written();
        for (auto& l : listeners_) counters.kernel_drops += kernel_drops_for(l->socket.native_handle());
        print_summary(decoder_summary(decoder_, counters));
        if (!ok) spdlog::error("writing records failed");
        return ok ? 0 : 1;
    }

private:
    void set_receive_buffer(Listener& l) {
        const int wanted = static_cast<int>(std::min<std::size_t>(config_.collector.socket_receive_buffer, INT32_MAX));
        l.socket.set_option(asio::socket_base::receive_buffer_size(wanted));
        asio::socket_base::receive_buffer_size got;
        l.socket.get_option(got);
        // Linux reports twice what it grants; less than asked means net.core.rmem_max capped it.
        if (got.value() / 2 < wanted)
            spdlog::warn("{}: receive buffer capped at {} bytes (asked {}); raise net.core.rmem_max to avoid drops",
                         config_.collector.listen.empty() ? "" : l.name, got.value() / 2, wanted);
    }

    void receive(Listener& l) {
        l.socket.async_receive_from(asio::buffer(l.buffer), l.sender,
                                    [this, &l](const boost::system::error_code& ec, std::size_t n) {
                                        if (ec == asio::error::operation_aborted || stopping_) return;
                                        if (!ec) handle(l, n);
                                        receive(l);
                                    });
    }

    void handle(Listener& l, std::size_t n) {
        collector::ExportPacket packet;
        packet.payload = std::span<const std::uint8_t>(l.buffer.data(), n);
        packet.exporter = to_ip(l.sender.address());
        packet.exporter_port = l.sender.port();
        packet.received_ns = now_ns();
        records_.clear();
        decoder_.decode(packet, records_);
        writer_.write(records_);
    }

    void schedule_tick() {
        tick_.expires_after(std::chrono::milliseconds(500));
        tick_.async_wait([this](const boost::system::error_code& ec) {
            if (ec || stopping_) return;
            decoder_.expire(now_ns());
            writer_.flush();
            schedule_tick();
        });
    }

    // Stop receiving, then read what the kernel still holds so nothing received is left undecoded.
    void stop() {
        stopping_ = true;
        tick_.cancel();
        for (auto& l : listeners_) {
            boost::system::error_code ec;
            l->socket.cancel(ec);
            l->socket.non_blocking(true, ec);
            for (;;) {
                const auto n = l->socket.receive_from(asio::buffer(l->buffer), l->sender, 0, ec);
                if (ec) break;
                handle(*l, n);
            }
        }
        io_.stop();
    }

    const Config& config_;
    collector::FlowDecoder decoder_;
    exporters::FlowLineWriter writer_;
    asio::io_context io_;
    asio::signal_set signals_;
    asio::steady_timer tick_;
    std::vector<std::unique_ptr<Listener>> listeners_;
    std::vector<FlowRecord> records_;
    bool stopping_ = false;
};

}  // namespace

int run_collect(Config config, const CollectOptions& options) {
    if (!options.listen.empty()) {
        config.collector.listen.clear();
        for (const auto& text : options.listen) {
            try {
                config.collector.listen.push_back(ListenEndpoint::parse(text));
            } catch (const ConfigError& e) {
                spdlog::error("--listen {}: {}", text, e.what());
                return 2;
            }
        }
    }
    if (options.output) config.output.path = *options.output;
    if (options.format) config.output.format = *options.format;

    std::FILE* out = stdout;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(nullptr, &std::fclose);
    if (config.output.path != "-" && config.output.format != "none") {
        // Append: restarting the collector must not erase what an earlier run wrote.
        file.reset(std::fopen(config.output.path.c_str(), "a"));
        if (!file) {
            spdlog::error("cannot open output '{}': {}", config.output.path, std::strerror(errno));
            return 1;
        }
        out = file.get();
    }
    UdpCollector collector(config, out, parse_flow_format(config.output.format));
    try {
        collector.open();
    } catch (const boost::system::system_error& e) {
        spdlog::error("cannot listen: {}", e.what());
        return 1;
    }
    collector.run();
    return collector.finish();
}

}  // namespace flowguard::app
