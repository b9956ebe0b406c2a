#include "nfdump_layout.hpp"

#include <flowguard/exporters/flow_filter.hpp>
#include <flowguard/exporters/nfdump_file.hpp>

#include <bit>
#include <cerrno>
#include <cstring>
#include <lz4.h>
#include <stdexcept>
#include <system_error>

namespace flowguard::exporters {
namespace {

using namespace nfdump;

// nfdump keeps addresses as host-order words (a v4 address one 32-bit word, a v6 address two 64-bit words).
// They are written into the record in place: building a temporary address and copying it stalls store-to-load
// forwarding, several times per record.
constexpr std::uint64_t to_network(std::uint64_t host) noexcept {
    return std::endian::native == std::endian::little ? __builtin_bswap64(host) : host;
}

void assign_v4(IpAddress& a, const std::uint8_t* p) {
    const std::uint32_t host = load<std::uint32_t>(p);
    const std::uint32_t network = std::endian::native == std::endian::little ? __builtin_bswap32(host) : host;
    a.assign_v4(reinterpret_cast<const std::uint8_t*>(&network));
}

void assign_v6(IpAddress& a, const std::uint8_t* p) {
    const std::uint64_t network[2] = {to_network(load<std::uint64_t>(p)), to_network(load<std::uint64_t>(p + 8))};
    a.assign_v6(reinterpret_cast<const std::uint8_t*>(network));
}

IpAddress v6_of(const std::uint8_t* p) {
    IpAddress a;
    assign_v6(a, p);
    return a;
}

void parse_generic(const std::uint8_t* e, FlowRecord& r) {
    r.time_flow_start_ns = load<std::uint64_t>(e) * kNsPerMs;
    r.time_flow_end_ns = load<std::uint64_t>(e + 8) * kNsPerMs;
    r.time_received_ns = load<std::uint64_t>(e + 16) * kNsPerMs;
    r.packets = load<std::uint64_t>(e + 24);
    r.bytes = load<std::uint64_t>(e + 32);
    r.src_port = load<std::uint16_t>(e + 40);
    r.dst_port = load<std::uint16_t>(e + 42);
    r.proto = e[44];
    r.tcp_flags = e[45];
    r.forwarding_status = e[46];
    r.ip_tos = e[47];
    // Also cleared: parse_core reuses one record, and a TCP flow must not keep the last ICMP flow's type.
    r.icmp_type = r.is_icmp() ? static_cast<std::uint8_t>(r.dst_port >> 8) : 0;
    r.icmp_code = r.is_icmp() ? static_cast<std::uint8_t>(r.dst_port) : 0;
}

// The address elements, shared by the whole-record parse and the one a filter decides on.
void parse_ipv4_flow(const std::uint8_t* e, FlowRecord& r) {
    assign_v4(r.src_addr, e);
    assign_v4(r.dst_addr, e + 4);
    r.etype = kEtherTypeIPv4;
}

void parse_ipv6_flow(const std::uint8_t* e, FlowRecord& r) {
    assign_v6(r.src_addr, e);
    assign_v6(r.dst_addr, e + 16);
    r.etype = kEtherTypeIPv6;
}

FlowType type_of(std::uint8_t nfversion) {
    switch (nfversion) {
        case 5:
            return FlowType::netflow_v5;
        case 9:
            return FlowType::netflow_v9;
        case 10:
            return FlowType::ipfix;
        default:
            return FlowType::unknown;
    }
}

}  // namespace

NfdumpReadBuffers::NfdumpReadBuffers()
    : raw(std::make_unique_for_overwrite<std::uint8_t[]>(kMaxBlockBytes)),
      payload(std::make_unique_for_overwrite<std::uint8_t[]>(kMaxBlockBytes)) {}

NfdumpFileReader::NfdumpFileReader(const std::string& path, NfdumpReadBuffers* buffers) : path_(path) {
    if (buffers == nullptr) {
        own_buffers_ = std::make_unique<NfdumpReadBuffers>();
        buffers = own_buffers_.get();
    }
    raw_ = buffers->raw.get();
    payload_ = buffers->payload.get();
    file_ = std::fopen(path.c_str(), "rb");
    if (file_ == nullptr) throw std::system_error(errno, std::generic_category(), "cannot open " + path);
    std::uint8_t h[kFileHeaderBytes];
    std::fseek(file_, 0, SEEK_END);
    file_size_ = static_cast<std::uint64_t>(std::ftell(file_));
    std::fseek(file_, 0, SEEK_SET);
    if (std::fread(h, 1, sizeof h, file_) != sizeof h) {
        std::fclose(file_);
        throw std::runtime_error(path + ": not an nfdump file (shorter than its header)");
    }
    auto reject = [&](const std::string& why) {
        std::fclose(file_);
        file_ = nullptr;
        throw std::runtime_error(path + ": " + why);
    };
    if (load<std::uint16_t>(h + kHdrMagic) != kMagic) reject("not an nfdump file (bad magic)");
    if (load<std::uint16_t>(h + kHdrVersion) == 1)
        reject("an nfdump 1.6 file (layout 1): convert it with `nfdump -r FILE -w NEW` (nfdump 1.7)");
    if (load<std::uint16_t>(h + kHdrVersion) != kLayoutVersion) reject("unknown nfdump file layout");
    if (h[kHdrEncryption] != 0) reject("encrypted nfdump file");
    compression_ = static_cast<NfdumpCompression>(h[kHdrCompression]);
    if (compression_ == NfdumpCompression::lzo || compression_ == NfdumpCompression::bz2)
        reject(
            "compressed with LZO or BZ2, which flowguard does not read: `nfdump -J 3 -r FILE` re-compresses "
            "it with LZ4 (or -J 0: none)");
    if (compression_ != NfdumpCompression::none && compression_ != NfdumpCompression::lz4)
        reject("unknown compression " + std::to_string(h[kHdrCompression]));
    blocks_total_ = load<std::uint32_t>(h + kHdrNumBlocks);
    const auto appendix_blocks = load<std::uint16_t>(h + kHdrAppendixBlocks);
    appendix_offset_ = appendix_blocks ? load<std::uint64_t>(h + kHdrAppendixOffset) : 0;
    if (appendix_offset_ > file_size_) appendix_offset_ = 0;
    // A writer that died never rewrote the header: no blocks and no appendix, yet data follows.
    counters_.unclosed = blocks_total_ == 0 && appendix_offset_ == 0 && file_size_ > kFileHeaderBytes;
    if (appendix_offset_ != 0) read_appendix();
}

NfdumpFileReader::~NfdumpFileReader() {
    if (file_ != nullptr) std::fclose(file_);
}

// One block's payload, decompressed; false at the end of the data or at a damaged block (counted).
bool NfdumpFileReader::read_block(std::span<const std::uint8_t>& payload, std::uint32_t& records, std::uint16_t& type) {
    std::uint8_t head[kBlockHeaderBytes];
    const long at = std::ftell(file_);
    if (appendix_offset_ != 0 && static_cast<std::uint64_t>(at) >= appendix_offset_) return false;
    const std::size_t got = std::fread(head, 1, sizeof head, file_);
    if (got == 0) return false;
    records = load<std::uint32_t>(head);
    const auto size = load<std::uint32_t>(head + 4);
    type = load<std::uint16_t>(head + 8);
    const auto flags = load<std::uint16_t>(head + 10);
    if (got != sizeof head || size > kMaxBlockBytes || size > file_size_ - static_cast<std::uint64_t>(at)) {
        ++counters_.damaged_blocks;  // cut short: the rest of the file is not trusted
        return false;
    }
    if (std::fread(raw_, 1, size, file_) != size) {
        ++counters_.damaged_blocks;
        return false;
    }
    const bool compressed = compression_ == NfdumpCompression::lz4 && (flags & 1u) == 0;
    if (!compressed) {
        payload = {raw_, size};
        return true;
    }
    const int n = LZ4_decompress_safe(reinterpret_cast<const char*>(raw_), reinterpret_cast<char*>(payload_),
                                      static_cast<int>(size), static_cast<int>(kMaxBlockBytes));
    if (n < 0) {
        ++counters_.damaged_blocks;
        return false;
    }
    payload = {payload_, static_cast<std::size_t>(n)};
    return true;
}

void NfdumpFileReader::read_appendix() {
    const long resume = std::ftell(file_);
    std::fseek(file_, static_cast<long>(appendix_offset_), SEEK_SET);
    const std::uint64_t appendix = appendix_offset_;
    appendix_offset_ = 0;  // read_block stops at the appendix; this once it is the block wanted
    std::uint32_t records = 0;
    std::uint16_t type = 0;
    std::span<const std::uint8_t> payload;
    const bool ok = read_block(payload, records, type);
    appendix_offset_ = appendix;
    std::fseek(file_, resume, SEEK_SET);
    if (!ok) return;
    std::size_t pos = 0;
    for (std::uint32_t i = 0; i < records && pos + 4 <= payload.size(); ++i) {
        const auto rtype = load<std::uint16_t>(payload.data() + pos);
        const auto rsize = load<std::uint16_t>(payload.data() + pos + 2);
        if (rsize < 4 || pos + rsize > payload.size()) break;
        const std::uint8_t* data = payload.data() + pos + 4;
        if (rtype == kTypeIdent) {
            ident_.assign(reinterpret_cast<const char*>(data),
                          strnlen(reinterpret_cast<const char*>(data), rsize - 4u));
        } else if (rtype == kTypeStat && rsize - 4u == kStatBytes) {
            NfdumpFileStats stats;
            std::memcpy(&stats, data, kStatBytes);  // nfdump's stat_record_t, field for field (writer's assert)
            stats_ = stats;
        }
        pos += rsize;
    }
}

bool NfdumpFileReader::next(std::vector<FlowRecord>& out, const FlowFilter* keep) {
    out.clear();
    while (!done_) {
        if (!counters_.unclosed && blocks_read_ >= blocks_total_) break;
        std::uint32_t records = 0;
        std::uint16_t type = 0;
        std::span<const std::uint8_t> payload;
        if (!read_block(payload, records, type)) break;
        ++blocks_read_;
        ++counters_.blocks;
        if (type == kBlockTypeV2) {
            ++counters_.unsupported_blocks;
            continue;
        }
        if (type != kBlockTypeV3) {
            ++counters_.skipped_records;  // a block of another kind: its records are not flows
            continue;
        }
        const auto before = counters_.records;
        parse_block(payload, records, out, keep);
        if (counters_.records != before) return true;
    }
    done_ = true;
    return !out.empty();
}

void NfdumpFileReader::parse_block(std::span<const std::uint8_t> payload, std::uint32_t records,
                                   std::vector<FlowRecord>& out, const FlowFilter* keep) {
    // Parsed into one scratch record that stays in L1; only what `keep` matches is copied out. A filter that reads
    // only the generic flow and address elements (most do) decides on those, and only its matches are parsed
    // whole.
    FlowRecord r;
    FlowRecord core;
    const bool decide_on_core = keep != nullptr && keep->reads_core_fields_only();
    const bool core_out = core_only_ && (keep == nullptr || decide_on_core);
    std::size_t pos = 0;
    for (std::uint32_t i = 0; i < records; ++i) {
        if (pos + 4 > payload.size()) {
            ++counters_.damaged_blocks;  // fewer records than announced
            return;
        }
        const auto type = load<std::uint16_t>(payload.data() + pos);
        const auto size = load<std::uint16_t>(payload.data() + pos + 2);
        if (size < 4 || pos + size > payload.size()) {
            ++counters_.damaged_blocks;
            return;
        }
        const std::uint8_t* p = payload.data() + pos;
        if (type == kTypeV3 && core_out) {
            if (parse_core(p, size, core)) {
                ++counters_.records;
                if (keep == nullptr || keep->matches(core)) out.push_back(core);
            } else {
                ++counters_.skipped_records;
            }
        } else if (type == kTypeV3) {
            if (decide_on_core && parse_core(p, size, core) && !keep->matches(core)) {
                ++counters_.records;
                pos += size;
                continue;
            }
            r = FlowRecord{};
            if (parse_v3(p, size, r)) {
                ++counters_.records;
                if (keep == nullptr || keep->matches(r)) out.push_back(r);
            } else {
                ++counters_.skipped_records;
            }
        } else if (type == kTypeExporterInfo && size >= kExporterInfoBytes) {
            Exporter e;
            const auto family = load<std::uint16_t>(p + 24);
            e.address = family == 2 ? IpAddress::from_v4(load<std::uint32_t>(p + 16)) : v6_of(p + 8);
            e.domain = load<std::uint32_t>(p + 28);
            const auto version = load<std::uint32_t>(p + 4);
            e.type = version == 9999 ? FlowType::sflow5 : type_of(static_cast<std::uint8_t>(version));
            exporters_[load<std::uint16_t>(p + 26)] = e;
        } else if (type == kTypeSampler && size >= kSamplerBytes) {
            const auto packets = load<std::uint32_t>(p + 16);
            const auto space = load<std::uint32_t>(p + 20);
            // One in (packets + space) / packets, as IPFIX's samplingPacketInterval/Space say it.
            if (packets != 0)
                exporters_[load<std::uint16_t>(p + 4)].sampling_rate = (std::uint64_t{packets} + space) / packets;
        } else {
            ++counters_.skipped_records;  // statistics, samplers, names: nfdump's own bookkeeping
        }
        pos += size;
    }
}

// The fields of the generic flow and address elements only (a filter that reads nothing else decides on them);
// false when the record lacks them, and then the whole record is parsed (and refused) as usual.
bool NfdumpFileReader::parse_core(const std::uint8_t* p, std::size_t size, FlowRecord& r) {
    if (size < kV3HeaderBytes) return false;
    // nfcapd and flowguard write the generic flow element first and the addresses second: read those in place
    // and walk the elements only for other layouts.
    constexpr std::size_t kAddressesAt = kV3HeaderBytes + kGenericFlowBytes;
    if (size >= kAddressesAt + kElementHeaderBytes && load<std::uint16_t>(p + 4) >= 2 &&
        load<std::uint16_t>(p + kV3HeaderBytes) == kGenericFlow &&
        load<std::uint16_t>(p + kV3HeaderBytes + 2) == kGenericFlowBytes) {
        const auto id = load<std::uint16_t>(p + kAddressesAt);
        const auto length = load<std::uint16_t>(p + kAddressesAt + 2);
        const std::uint8_t* e = p + kAddressesAt + kElementHeaderBytes;
        if (id == kIpv4Flow && length == kIpv4FlowBytes && size >= kAddressesAt + kIpv4FlowBytes) {
            parse_generic(p + kV3HeaderBytes + kElementHeaderBytes, r);
            parse_ipv4_flow(e, r);
            return true;
        }
        if (id == kIpv6Flow && length == kIpv6FlowBytes && size >= kAddressesAt + kIpv6FlowBytes) {
            parse_generic(p + kV3HeaderBytes + kElementHeaderBytes, r);
            parse_ipv6_flow(e, r);
            return true;
        }
    }
    const auto elements = load<std::uint16_t>(p + 4);
    bool generic = false;
    bool addresses = false;
    std::size_t pos = kV3HeaderBytes;
    for (std::uint16_t i = 0; i < elements && pos + kElementHeaderBytes <= size && !(generic && addresses); ++i) {
        const auto id = load<std::uint16_t>(p + pos);
        const auto length = load<std::uint16_t>(p + pos + 2);
        if (length < kElementHeaderBytes || pos + length > size) return false;
        const std::uint8_t* e = p + pos + kElementHeaderBytes;
        if (id == kGenericFlow && length >= kGenericFlowBytes) {
            parse_generic(e, r);
            generic = true;
        } else if (id == kIpv4Flow && length >= kIpv4FlowBytes) {
            parse_ipv4_flow(e, r);
            addresses = true;
        } else if (id == kIpv6Flow && length >= kIpv6FlowBytes) {
            parse_ipv6_flow(e, r);
            addresses = true;
        }
        pos += length;
    }
    if (!addresses) r.src_addr = r.dst_addr = IpAddress{};  // as parse_v3 leaves them
    return generic;
}

// One V3 record (bounds already checked against the block) into `r`; false when it carries no flow.
bool NfdumpFileReader::parse_v3(const std::uint8_t* p, std::size_t size, FlowRecord& r) const {
    if (size < kV3HeaderBytes) return false;
    const auto elements = load<std::uint16_t>(p + 4);
    const auto exporter = load<std::uint16_t>(p + 8);
    r.type = type_of(p[11]);
    r.observation_domain_id = p[7];
    bool flow = false;
    bool received = false;
    std::size_t pos = kV3HeaderBytes;
    for (std::uint16_t i = 0; i < elements && pos + kElementHeaderBytes <= size; ++i) {
        const auto id = load<std::uint16_t>(p + pos);
        const auto length = load<std::uint16_t>(p + pos + 2);
        if (length < kElementHeaderBytes || pos + length > size) return false;
        const std::uint8_t* e = p + pos + kElementHeaderBytes;
        auto has = [&](std::uint16_t needed) { return length >= needed; };
        switch (id) {
            case kGenericFlow:
                if (!has(kGenericFlowBytes)) return false;
                parse_generic(e, r);
                flow = true;
                break;
            case kIpv4Flow:
                if (!has(kIpv4FlowBytes)) return false;
                parse_ipv4_flow(e, r);
                break;
            case kIpv6Flow:
                if (!has(kIpv6FlowBytes)) return false;
                parse_ipv6_flow(e, r);
                break;
            case kFlowMisc:
                if (!has(kFlowMiscBytes)) return false;
                r.in_if = load<std::uint32_t>(e);
                r.out_if = load<std::uint32_t>(e + 4);
                r.src_mask = e[8];
                r.dst_mask = e[9];
                r.direction = e[10] == 1 ? FlowDirection::egress : FlowDirection::ingress;
                r.flow_end_reason = e[13];
                break;
            case kVlan:
                if (!has(kVlanBytes)) return false;
                r.src_vlan = static_cast<std::uint16_t>(load<std::uint32_t>(e));
                r.dst_vlan = static_cast<std::uint16_t>(load<std::uint32_t>(e + 4));
                break;
            case kAsRouting:
                if (!has(kAsRoutingBytes)) return false;
                r.src_as = load<std::uint32_t>(e);
                r.dst_as = load<std::uint32_t>(e + 4);
                break;
            case kIpNextHopV4:
            case kBgpNextHopV4:
            case kIpReceivedV4:
                if (!has(kAddressV4Bytes)) return false;
                assign_v4(id == kIpNextHopV4    ? r.next_hop
                          : id == kBgpNextHopV4 ? r.bgp_next_hop
                                                : r.sampler_address,
                          e);
                received = received || id == kIpReceivedV4;
                break;
            case kIpNextHopV6:
            case kBgpNextHopV6:
            case kIpReceivedV6:
                if (!has(kAddressV6Bytes)) return false;
                assign_v6(id == kIpNextHopV6    ? r.next_hop
                          : id == kBgpNextHopV6 ? r.bgp_next_hop
                                                : r.sampler_address,
                          e);
                received = received || id == kIpReceivedV6;
                break;
            case kMacAddr:
                if (!has(kMacAddrBytes)) return false;
                r.src_mac = load<std::uint64_t>(e);
                r.dst_mac = load<std::uint64_t>(e + 8);
                break;
            default:
                break;  // elements flowguard does not keep (NSEL, latency, payload, ...)
        }
        pos += length;
    }
    if (!flow) return false;
    if (r.etype == 0) r.etype = kEtherTypeIPv4;
    if (const auto it = exporters_.find(exporter); it != exporters_.end()) {
        if (!received) r.sampler_address = it->second.address;
        r.observation_domain_id = it->second.domain;
        if (r.type == FlowType::unknown) r.type = it->second.type;
        if (p[10] & kV3FlagSampled) r.sampling_rate = it->second.sampling_rate;
    }
    return true;
}

}  // namespace flowguard::exporters
