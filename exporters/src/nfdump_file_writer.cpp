#include "nfdump_layout.hpp"

#include <flowguard/exporters/nfdump_file.hpp>

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <lz4.h>
#include <system_error>
#include <type_traits>

namespace flowguard::exporters {
// NfdumpFileStats is nfdump's stat_record_t field for field, so the appendix takes it as it is.
static_assert(sizeof(NfdumpFileStats) == nfdump::kStatBytes && std::is_trivially_copyable_v<NfdumpFileStats>);

namespace {

using namespace nfdump;

[[noreturn]] void fail(const std::string& what, const std::string& path) {
    throw std::system_error(errno, std::generic_category(), what + " " + path);
}

// Appends one V3 record's elements at `p`; the caller reserved kMaxV3RecordBytes.
class RecordBuilder {
public:
    explicit RecordBuilder(std::uint8_t* p) : start_(p), p_(p + kV3HeaderBytes) {}

    std::uint8_t* element(Element id, std::uint16_t length) {
        store<std::uint16_t>(p_, id);
        store<std::uint16_t>(p_ + 2, length);
        std::uint8_t* body = p_ + kElementHeaderBytes;
        std::memset(body, 0, length - kElementHeaderBytes);
        p_ += length;
        ++elements_;
        return body;
    }
    void address(Element v4, Element v6, const IpAddress& a) {
        if (a.is_v4()) {
            store<std::uint32_t>(element(v4, kAddressV4Bytes), a.v4());
        } else if (a.is_v6()) {
            store_v6(element(v6, kAddressV6Bytes), a);
        }
    }
    static void store_v6(std::uint8_t* p, const IpAddress& a) {
        std::uint64_t hi = 0, lo = 0;
        for (int i = 0; i < 8; ++i) {
            hi = (hi << 8) | a.bytes()[i];
            lo = (lo << 8) | a.bytes()[8 + i];
        }
        store<std::uint64_t>(p, hi);
        store<std::uint64_t>(p + 8, lo);
    }
    std::size_t finish(std::uint16_t exporter, const FlowRecord& r) {
        const auto size = static_cast<std::uint16_t>(p_ - start_);
        store<std::uint16_t>(start_, kTypeV3);
        store<std::uint16_t>(start_ + 2, size);
        store<std::uint16_t>(start_ + 4, elements_);
        start_[6] = 0;  // engine type
        start_[7] = static_cast<std::uint8_t>(r.observation_domain_id);
        store<std::uint16_t>(start_ + 8, exporter);
        start_[10] = r.sampling_rate > 1 ? kV3FlagSampled : 0;
        start_[11] = r.type == FlowType::netflow_v5   ? 5
                     : r.type == FlowType::netflow_v9 ? 9
                     : r.type == FlowType::ipfix      ? 10
                                                      : 0;
        return size;
    }

private:
    std::uint8_t* start_;
    std::uint8_t* p_;
    std::uint16_t elements_ = 0;
};

std::size_t encode_v3(std::uint8_t* out, std::uint16_t exporter, const FlowRecord& r) {
    RecordBuilder b(out);
    std::uint8_t* g = b.element(kGenericFlow, kGenericFlowBytes);
    store<std::uint64_t>(g, r.time_flow_start_ns / kNsPerMs);
    store<std::uint64_t>(g + 8, r.time_flow_end_ns / kNsPerMs);
    store<std::uint64_t>(g + 16, r.time_received_ns / kNsPerMs);
    store<std::uint64_t>(g + 24, r.packets);
    store<std::uint64_t>(g + 32, r.bytes);
    // ICMP: type and code in the destination port (type * 256 + code), as NetFlow v5/v9 export them.
    store<std::uint16_t>(g + 40, r.src_port);
    store<std::uint16_t>(g + 42, r.is_icmp() ? static_cast<std::uint16_t>(r.icmp_type << 8 | r.icmp_code) : r.dst_port);
    g[44] = r.proto;
    g[45] = r.tcp_flags;
    g[46] = r.forwarding_status;
    g[47] = r.ip_tos;
    if (r.src_addr.is_v6() || r.dst_addr.is_v6()) {
        std::uint8_t* a = b.element(kIpv6Flow, kIpv6FlowBytes);
        RecordBuilder::store_v6(a, r.src_addr);
        RecordBuilder::store_v6(a + 16, r.dst_addr);
    } else {
        std::uint8_t* a = b.element(kIpv4Flow, kIpv4FlowBytes);
        store<std::uint32_t>(a, r.src_addr.v4());
        store<std::uint32_t>(a + 4, r.dst_addr.v4());
    }
    const bool directed = r.direction != FlowDirection::unknown;
    if (r.in_if || r.out_if || r.src_mask || r.dst_mask || directed || r.flow_end_reason) {
        std::uint8_t* m = b.element(kFlowMisc, kFlowMiscBytes);
        store<std::uint32_t>(m, r.in_if);
        store<std::uint32_t>(m + 4, r.out_if);
        m[8] = r.src_mask;
        m[9] = r.dst_mask;
        m[10] = directed ? static_cast<std::uint8_t>(r.direction) : 0;
        m[13] = r.flow_end_reason;
    }
    if (r.src_vlan || r.dst_vlan) {
        std::uint8_t* v = b.element(kVlan, kVlanBytes);
        store<std::uint32_t>(v, r.src_vlan);
        store<std::uint32_t>(v + 4, r.dst_vlan);
    }
    if (r.src_as || r.dst_as) {
        std::uint8_t* as = b.element(kAsRouting, kAsRoutingBytes);
        store<std::uint32_t>(as, r.src_as);
        store<std::uint32_t>(as + 4, r.dst_as);
    }
    b.address(kIpNextHopV4, kIpNextHopV6, r.next_hop);
    b.address(kBgpNextHopV4, kBgpNextHopV6, r.bgp_next_hop);
    b.address(kIpReceivedV4, kIpReceivedV6, r.sampler_address);
    if (r.src_mac || r.dst_mac) {
        std::uint8_t* mac = b.element(kMacAddr, kMacAddrBytes);
        store<std::uint64_t>(mac, r.src_mac);
        store<std::uint64_t>(mac + 8, r.dst_mac);
    }
    return b.finish(exporter, r);
}

std::uint32_t exporter_version(FlowType type) {
    switch (type) {
        case FlowType::netflow_v5:
            return 5;
        case FlowType::netflow_v9:
            return 9;
        case FlowType::sflow5:
            return 9999;  // nfdump's SFLOW_VERSION
        default:
            return 10;
    }
}

}  // namespace

void NfdumpFileStats::add(const FlowRecord& r) noexcept {
    ++flows;
    bytes += r.bytes;
    packets += r.packets;
    auto count = [&](std::uint64_t& f, std::uint64_t& b, std::uint64_t& p) {
        ++f;
        b += r.bytes;
        p += r.packets;
    };
    if (r.proto == 6)
        count(flows_tcp, bytes_tcp, packets_tcp);
    else if (r.proto == 17)
        count(flows_udp, bytes_udp, packets_udp);
    else if (r.is_icmp())
        count(flows_icmp, bytes_icmp, packets_icmp);
    else
        count(flows_other, bytes_other, packets_other);
    const std::uint64_t first = r.time_flow_start_ns / kNsPerMs;
    const std::uint64_t last = r.time_flow_end_ns / kNsPerMs;
    first_ms = first_ms == 0 ? first : std::min(first_ms, first);
    last_ms = std::max(last_ms, last);
}

std::size_t NfdumpFileWriter::ExporterKeyHash::operator()(const ExporterKey& k) const noexcept {
    return hash_value(k.address) ^ (std::size_t{k.domain} * 0x9E3779B97F4A7C15ull) ^ static_cast<std::size_t>(k.type);
}

NfdumpFileWriter::NfdumpFileWriter(std::string path, NfdumpCompression compression, std::string ident)
    : path_(std::move(path)), compression_(compression), ident_(std::move(ident)) {
    if (compression_ != NfdumpCompression::none && compression_ != NfdumpCompression::lz4)
        throw std::invalid_argument("nfdump files: flowguard writes them uncompressed or LZ4-compressed");
    if (ident_.size() >= 127) ident_.resize(127);  // nfdump's IDENTLEN is 128 with the NUL
    fd_ = ::open(path_.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("cannot create", path_);
    created_s_ = static_cast<std::int64_t>(std::time(nullptr));
    block_.reserve(kBlockBytes);
    const auto h = header(0, 0);
    try {
        write_at(0, h.data(), h.size());
    } catch (...) {
        abandon();  // no destructor runs for a constructor that throws: the descriptor must not leak
        throw;
    }
    offset_ = h.size();
}

void NfdumpFileWriter::abandon() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

NfdumpFileWriter::~NfdumpFileWriter() {
    try {
        close();
    } catch (const std::exception& e) {
        spdlog::error("archive: {}", e.what());
        if (fd_ >= 0) ::close(fd_);
    }
}

std::vector<std::uint8_t> NfdumpFileWriter::header(std::uint32_t blocks, std::uint64_t appendix_offset) const {
    std::vector<std::uint8_t> h(kFileHeaderBytes, 0);
    store<std::uint16_t>(h.data() + kHdrMagic, kMagic);
    store<std::uint16_t>(h.data() + kHdrVersion, kLayoutVersion);
    store<std::uint32_t>(h.data() + kHdrNfdVersion, kNfdumpVersion);
    store<std::int64_t>(h.data() + kHdrCreated, created_s_);
    h[kHdrCompression] = static_cast<std::uint8_t>(compression_);
    store<std::uint16_t>(h.data() + kHdrAppendixBlocks, appendix_offset ? 1 : 0);
    store<std::uint64_t>(h.data() + kHdrAppendixOffset, appendix_offset);
    store<std::uint32_t>(h.data() + kHdrBlockSize, static_cast<std::uint32_t>(kBlockBytes));
    store<std::uint32_t>(h.data() + kHdrNumBlocks, blocks);
    return h;
}

std::uint16_t NfdumpFileWriter::exporter_of(const FlowRecord& r) {
    if (r.sampler_address.empty()) return 0;
    const ExporterKey key{r.sampler_address, r.observation_domain_id, r.type};
    if (last_exporter_ && last_exporter_->first == key) return last_exporter_->second;
    if (const auto it = exporters_.find(key); it != exporters_.end()) {
        last_exporter_.emplace(key, it->second);
        return it->second;
    }
    if (exporters_.size() >= 0xfffe) return 0;  // nfdump's sysid is 16 bits
    const auto sysid = static_cast<std::uint16_t>(exporters_.size() + 1);
    exporters_.emplace(key, sysid);
    last_exporter_.emplace(key, sysid);
    // nfdump learns an exporter from an info record in the data before the first flow that names it.
    const std::size_t at = block_.size();
    block_.resize(at + kExporterInfoBytes, 0);
    std::uint8_t* p = block_.data() + at;
    store<std::uint16_t>(p, kTypeExporterInfo);
    store<std::uint16_t>(p + 2, static_cast<std::uint16_t>(kExporterInfoBytes));
    store<std::uint32_t>(p + 4, exporter_version(r.type));
    if (r.sampler_address.is_v4()) {
        store<std::uint32_t>(p + 8 + 8, r.sampler_address.v4());  // ip_addr_t: the v4 word of a little-endian host
        store<std::uint16_t>(p + 24, 2);                          // AF_INET
    } else {
        RecordBuilder::store_v6(p + 8, r.sampler_address);
        store<std::uint16_t>(p + 24, 10);  // AF_INET6
    }
    store<std::uint16_t>(p + 26, sysid);
    store<std::uint32_t>(p + 28, r.observation_domain_id);
    ++block_records_;
    return sysid;
}

// A sampler record before the first sampled flow of an exporter, and again when its rate changes: nfdump (and
// NfdumpFileReader) give a record flagged sampled the rate of its exporter's last sampler record.
void NfdumpFileWriter::note_sampling(std::uint16_t exporter, std::uint64_t rate) {
    if (sampling_.size() <= exporter) sampling_.resize(exporter + 1u, 0);
    if (sampling_[exporter] == rate) return;
    sampling_[exporter] = rate;
    const std::size_t at = block_.size();
    block_.resize(at + kSamplerBytes, 0);
    std::uint8_t* p = block_.data() + at;
    store<std::uint16_t>(p, kTypeSampler);
    store<std::uint16_t>(p + 2, static_cast<std::uint16_t>(kSamplerBytes));
    store<std::uint16_t>(p + 4, exporter);
    store<std::int64_t>(p + 8, kSamplerGeneric);
    store<std::uint32_t>(p + 16, 1);  // 1 packet taken ...
    store<std::uint32_t>(p + 20,
                         static_cast<std::uint32_t>(std::min<std::uint64_t>(rate, UINT32_MAX) - 1));  // ... per rate
    ++block_records_;
}

void NfdumpFileWriter::append(const FlowRecord& record) {
    if (fd_ < 0) throw std::logic_error("nfdump file " + path_ + " is closed");
    if (block_.size() + kMaxV3RecordBytes + kExporterInfoBytes + kSamplerBytes > kBlockBytes) {
        write_block(block_records_, {block_.data(), block_.size()});
        block_.clear();
        block_records_ = 0;
    }
    const std::uint16_t exporter = exporter_of(record);
    if (record.sampling_rate > 1 && exporter != 0) note_sampling(exporter, record.sampling_rate);
    const std::size_t at = block_.size();
    block_.resize(at + kMaxV3RecordBytes, boost::container::default_init);
    block_.resize(at + encode_v3(block_.data() + at, exporter, record));
    ++block_records_;
    stats_.add(record);
}

void NfdumpFileWriter::write_block(std::uint32_t records, std::span<const std::uint8_t> payload) {
    if (records == 0) return;
    const std::uint8_t* data = payload.data();
    std::size_t size = payload.size();
    if (compression_ == NfdumpCompression::lz4) {
        compressed_.resize(static_cast<std::size_t>(LZ4_compressBound(static_cast<int>(size))));
        const int out =
            LZ4_compress_default(reinterpret_cast<const char*>(data), reinterpret_cast<char*>(compressed_.data()),
                                 static_cast<int>(size), static_cast<int>(compressed_.size()));
        if (out <= 0) throw std::runtime_error("LZ4 compression failed for " + path_);
        data = compressed_.data();
        size = static_cast<std::size_t>(out);
    }
    std::uint8_t head[kBlockHeaderBytes] = {};
    store<std::uint32_t>(head, records);
    store<std::uint32_t>(head + 4, static_cast<std::uint32_t>(size));
    store<std::uint16_t>(head + 8, kBlockTypeV3);
    write_at(offset_, head, sizeof head);
    write_at(offset_ + sizeof head, data, size);
    offset_ += sizeof head + size;
    ++blocks_;
}

void NfdumpFileWriter::write_at(std::uint64_t offset, const void* data, std::size_t size) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    while (size > 0) {
        const ssize_t n = ::pwrite(fd_, p, size, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail("cannot write", path_);
        p += n;
        offset += static_cast<std::uint64_t>(n);
        size -= static_cast<std::size_t>(n);
    }
}

void NfdumpFileWriter::close() {
    if (fd_ < 0) return;
    try {
        complete();
    } catch (...) {
        abandon();  // a second close (the destructor's) must not write into a half-completed file
        throw;
    }
}

void NfdumpFileWriter::complete() {
    write_block(block_records_, {block_.data(), block_.size()});
    block_.clear();
    block_records_ = 0;
    const std::uint32_t data_blocks = blocks_;
    const std::uint64_t appendix_offset = offset_;
    // The appendix: the ident, then the statistics, in one block compressed as the data is.
    std::vector<std::uint8_t> appendix(4 + ident_.size() + 1 + 4 + kStatBytes, 0);
    store<std::uint16_t>(appendix.data(), kTypeIdent);
    store<std::uint16_t>(appendix.data() + 2, static_cast<std::uint16_t>(4 + ident_.size() + 1));
    std::memcpy(appendix.data() + 4, ident_.data(), ident_.size());
    std::uint8_t* stat = appendix.data() + 4 + ident_.size() + 1;
    store<std::uint16_t>(stat, kTypeStat);
    store<std::uint16_t>(stat + 2, static_cast<std::uint16_t>(4 + kStatBytes));
    std::memcpy(stat + 4, &stats_, kStatBytes);
    write_block(2, appendix);
    const auto h = header(data_blocks, appendix_offset);
    write_at(0, h.data(), h.size());
    // The file is complete once its header says so: make that durable before the archive renames it.
    if (::fdatasync(fd_) != 0 && errno != EINVAL) fail("cannot sync", path_);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("cannot close", path_);
}

}  // namespace flowguard::exporters
