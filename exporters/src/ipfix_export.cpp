#include <flowguard/core/config.hpp>
#include <flowguard/exporters/ipfix_export.hpp>

#include <fmt/format.h>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace flowguard::exporters {
namespace {

constexpr std::uint16_t kVersion = 10;
constexpr std::size_t kHeaderSize = 16;
constexpr std::size_t kSetHeaderSize = 4;
constexpr std::uint16_t kTemplateSetId = 2;

struct Field {
    std::uint16_t id;
    std::uint16_t length;
};

// IANA IPFIX information elements, in the order the records are written.
constexpr std::array<Field, 14> kIPv4Fields{{
    {8, 4},    // sourceIPv4Address
    {12, 4},   // destinationIPv4Address
    {7, 2},    // sourceTransportPort
    {11, 2},   // destinationTransportPort
    {4, 1},    // protocolIdentifier
    {6, 2},    // tcpControlBits (RFC 7125: 2 bytes)
    {5, 1},    // ipClassOfService
    {32, 2},   // icmpTypeCodeIPv4
    {58, 2},   // vlanId
    {136, 1},  // flowEndReason
    {1, 8},    // octetDeltaCount
    {2, 8},    // packetDeltaCount
    {152, 8},  // flowStartMilliseconds
    {153, 8},  // flowEndMilliseconds
}};
constexpr std::array<Field, 15> kIPv6Fields{{
    {27, 16},  // sourceIPv6Address
    {28, 16},  // destinationIPv6Address
    {7, 2},
    {11, 2},
    {4, 1},
    {6, 2},
    {5, 1},
    {139, 2},  // icmpTypeCodeIPv6
    {58, 2},
    {136, 1},
    {31, 4},  // flowLabelIPv6
    {1, 8},
    {2, 8},
    {152, 8},
    {153, 8},
}};

// The template set both templates travel in: set header, two template headers, 4 bytes per field.
constexpr std::size_t kTemplateSetSize = kSetHeaderSize + 8 + 4 * (kIPv4Fields.size() + kIPv6Fields.size());

template <std::size_t N>
constexpr std::size_t record_size(const std::array<Field, N>& fields) {
    std::size_t n = 0;
    for (const auto& f : fields) n += f.length;
    return n;
}

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
}
void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    put16(out, static_cast<std::uint16_t>(v >> 16));
    put16(out, static_cast<std::uint16_t>(v));
}
void put64(std::vector<std::uint8_t>& out, std::uint64_t v) {
    put32(out, static_cast<std::uint32_t>(v >> 32));
    put32(out, static_cast<std::uint32_t>(v));
}
void set16(std::vector<std::uint8_t>& out, std::size_t at, std::uint16_t v) {
    out[at] = static_cast<std::uint8_t>(v >> 8);
    out[at + 1] = static_cast<std::uint8_t>(v);
}

template <std::size_t N>
void append_template(std::vector<std::uint8_t>& out, std::uint16_t id, const std::array<Field, N>& fields) {
    put16(out, id);
    put16(out, static_cast<std::uint16_t>(N));
    for (const auto& f : fields) {
        put16(out, f.id);
        put16(out, f.length);
    }
}

// Fields common to both templates after the addresses, up to the family-specific tail.
void append_ports_to_vlan(std::vector<std::uint8_t>& out, const FlowRecord& r) {
    const bool icmp = r.proto == 1 || r.proto == 58;
    put16(out, icmp ? 0 : r.src_port);
    put16(out, icmp ? 0 : r.dst_port);
    out.push_back(r.proto);
    put16(out, r.tcp_flags);
    out.push_back(r.ip_tos);
    put16(out, icmp ? static_cast<std::uint16_t>(r.icmp_type << 8 | r.icmp_code) : 0);
    put16(out, r.src_vlan);
    out.push_back(r.flow_end_reason);
}

void append_counters_and_times(std::vector<std::uint8_t>& out, const FlowRecord& r) {
    put64(out, r.bytes);
    put64(out, r.packets);
    put64(out, r.time_flow_start_ns / 1'000'000);
    put64(out, r.time_flow_end_ns / 1'000'000);
}

}  // namespace

IpfixEncoder::IpfixEncoder(IpfixEncoderOptions options, Send send) : options_(options), send_(std::move(send)) {
    pending_[0].template_id = 256;
    pending_[0].record_size = record_size(kIPv4Fields);
    pending_[1].template_id = 257;
    pending_[1].record_size = record_size(kIPv6Fields);
    // The smallest useful message: header, both templates, one data set with one IPv6 record.
    const std::size_t floor = kHeaderSize + kTemplateSetSize + kSetHeaderSize + pending_[1].record_size;
    options_.max_message = std::clamp<std::size_t>(options_.max_message, floor, 65535);
}

void IpfixEncoder::append_templates(std::vector<std::uint8_t>& message) const {
    const std::size_t set_start = message.size();
    put16(message, kTemplateSetId);
    put16(message, 0);  // length, set below
    append_template(message, 256, kIPv4Fields);
    append_template(message, 257, kIPv6Fields);
    set16(message, set_start + 2, static_cast<std::uint16_t>(message.size() - set_start));
}

void IpfixEncoder::add(const FlowRecord& r, std::uint64_t export_ns) {
    if (!r.src_addr.is_v4() && !r.src_addr.is_v6()) {
        ++stats_.skipped;
        return;
    }
    const bool v6 = r.src_addr.is_v6();
    Pending& p = pending_[v6 ? 1 : 0];
    // Room for this record with the templates in front (they may be due when the message goes out).
    if (kHeaderSize + kTemplateSetSize + kSetHeaderSize + p.data.size() + p.record_size > options_.max_message)
        send(p, export_ns);
    auto& out = p.data;
    if (v6) {
        out.insert(out.end(), r.src_addr.bytes().begin(), r.src_addr.bytes().end());
        out.insert(out.end(), r.dst_addr.bytes().begin(), r.dst_addr.bytes().end());
        append_ports_to_vlan(out, r);
        put32(out, r.ipv6_flow_label & 0xfffff);
    } else {
        put32(out, r.src_addr.v4());
        put32(out, r.dst_addr.v4());
        append_ports_to_vlan(out, r);
    }
    append_counters_and_times(out, r);
    ++p.count;
}

void IpfixEncoder::send(Pending& p, std::uint64_t export_ns) {
    const bool templates_due = !templates_sent_ || export_ns >= templates_sent_ns_ + options_.template_refresh_ns ||
                               export_ns < templates_sent_ns_;  // a clock that went back
    if (p.count == 0 && !templates_due) return;
    message_.clear();
    put16(message_, kVersion);
    put16(message_, 0);  // length, set below
    put32(message_, static_cast<std::uint32_t>(export_ns / 1'000'000'000));
    put32(message_, sequence_);  // data records sent before this message (RFC 7011 section 3.1)
    put32(message_, options_.observation_domain);
    if (templates_due) {
        append_templates(message_);
        templates_sent_ = true;
        templates_sent_ns_ = export_ns;
        ++stats_.template_sets;
    }
    if (p.count > 0) {
        put16(message_, p.template_id);
        put16(message_, static_cast<std::uint16_t>(kSetHeaderSize + p.data.size()));
        message_.insert(message_.end(), p.data.begin(), p.data.end());
    }
    set16(message_, 2, static_cast<std::uint16_t>(message_.size()));
    sequence_ += p.count;
    stats_.records += p.count;
    ++stats_.messages;
    p.data.clear();
    p.count = 0;
    send_(message_);
}

void IpfixEncoder::flush(std::uint64_t export_ns) {
    for (auto& p : pending_)
        if (p.count > 0) send(p, export_ns);
}

namespace {

int connect_udp(const std::string& target) {
    const auto endpoint = ListenEndpoint::parse(target);  // udp://HOST:PORT; throws ConfigError
    addrinfo hints{};
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* found = nullptr;
    const auto port = std::to_string(endpoint.port);
    if (const int rc = getaddrinfo(endpoint.address.c_str(), port.c_str(), &hints, &found); rc != 0)
        throw std::runtime_error(fmt::format("IPFIX export to {}: {}", target, gai_strerror(rc)));
    int fd = -1;
    int error = 0;
    for (auto* a = found; a != nullptr && fd < 0; a = a->ai_next) {
        fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd >= 0 && ::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            error = errno;
            ::close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(found);
    if (fd < 0) throw std::runtime_error(fmt::format("IPFIX export to {}: {}", target, std::strerror(error)));
    return fd;
}

}  // namespace

IpfixUdpExporter::IpfixUdpExporter(const std::string& target, IpfixEncoderOptions options)
    : fd_(connect_udp(target)), encoder_(options, [this](std::span<const std::uint8_t> message) {
          // A connected UDP socket reports an earlier ICMP unreachable on a later send: counted, not fatal.
          if (::send(fd_, message.data(), message.size(), 0) < 0) ++send_errors_;
      }) {}

IpfixUdpExporter::~IpfixUdpExporter() {
    if (fd_ >= 0) ::close(fd_);
}

void IpfixUdpExporter::add(std::span<const FlowRecord> records, std::uint64_t export_ns) {
    std::lock_guard lock(mutex_);
    for (const auto& r : records) encoder_.add(r, export_ns);
}

void IpfixUdpExporter::flush(std::uint64_t export_ns, std::uint64_t older_than_ns) {
    std::lock_guard lock(mutex_);
    if (older_than_ns != 0 && export_ns < flushed_ns_ + older_than_ns) return;
    flushed_ns_ = export_ns;
    encoder_.flush(export_ns);
}

IpfixEncoderStats IpfixUdpExporter::stats() const {
    std::lock_guard lock(mutex_);
    return encoder_.stats();
}

std::uint64_t IpfixUdpExporter::send_errors() const {
    std::lock_guard lock(mutex_);
    return send_errors_;
}

void IpfixUdpExporter::summarize(boost::json::object& summary) const {
    const auto s = stats();
    summary["ipfix_messages"] = s.messages;
    summary["ipfix_records"] = s.records;
    summary["ipfix_send_errors"] = send_errors();
}

void IpfixExportStage::on_flows(std::span<const FlowRecord> records, std::uint64_t now_ns, Alerts&) {
    exporter_.add(records, now_ns);
}

void IpfixExportStage::flush(std::uint64_t now_ns) {
    exporter_.flush(now_ns, finished_ ? 0 : 1'000'000'000ull);
}

}  // namespace flowguard::exporters
