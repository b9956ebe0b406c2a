#pragma once
// nfdump's on-disk layout (nfdump 1.7: src/lib/nffileV2.h, nfxV3.h, id.h, exporter.h), as offsets and sizes:
// the writer and the reader share these, and nothing else of nfdump's. Fields are native-endian; addresses are
// host-order integers (IPv6 as two 64-bit halves, most significant first).
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace flowguard::exporters::nfdump {

inline constexpr std::uint64_t kNsPerMs = 1'000'000;  // nfdump keeps times in ms
inline constexpr std::uint16_t kMagic = 0xA50C;
inline constexpr std::uint16_t kLayoutVersion = 2;
inline constexpr std::uint32_t kNfdumpVersion = 0x01070100;  // 1.7.1, the reader flowguard is tested with
inline constexpr std::size_t kFileHeaderBytes = 40;
// File header offsets.
inline constexpr std::size_t kHdrMagic = 0, kHdrVersion = 2, kHdrNfdVersion = 4, kHdrCreated = 8, kHdrCompression = 16,
                             kHdrEncryption = 17, kHdrAppendixBlocks = 18, kHdrAppendixOffset = 24, kHdrBlockSize = 32,
                             kHdrNumBlocks = 36;

inline constexpr std::size_t kBlockHeaderBytes = 12;  // NumRecords u32, size u32, type u16, flags u16
inline constexpr std::uint16_t kBlockTypeV2 = 2;      // nfdump 1.6 records: not read
inline constexpr std::uint16_t kBlockTypeV3 = 3;
inline constexpr std::uint32_t kMaxBlockBytes = 5u << 20;  // nfdump's BUFFSIZE: no block is larger

inline constexpr std::uint16_t kTypeExporterInfo = 7;
inline constexpr std::uint16_t kTypeSampler =
    15;  // exporter_sysid u16, algorithm u16, id i64, packetInterval, spaceInterval u32
inline constexpr std::uint16_t kTypeV3 = 11;
inline constexpr std::uint16_t kTypeIdent = 0x8001;
inline constexpr std::uint16_t kTypeStat = 0x8002;

inline constexpr std::size_t kV3HeaderBytes =
    12;  // type, size, numElements, engineType, engineID, exporterID, flags, nfversion
inline constexpr std::uint8_t kV3FlagSampled = 2;
inline constexpr std::size_t kElementHeaderBytes = 4;  // type u16, length u16 (length includes this header)
inline constexpr std::size_t kExporterInfoBytes = 32;  // header, version u32, ip_addr_t, sa_family, sysid, id
inline constexpr std::size_t kStatBytes = 18 * 8;
inline constexpr std::size_t kSamplerBytes = 24;
inline constexpr std::int64_t kSamplerGeneric = -1;  // SAMPLER_GENERIC: not a numbered sampler of the device

// Element ids and their lengths (header included).
enum Element : std::uint16_t {
    kGenericFlow = 1,  // msecFirst, msecLast, msecReceived, inPackets, inBytes (u64); srcPort, dstPort (u16);
                       // proto, tcpFlags, fwdStatus, srcTos (u8)
    kIpv4Flow = 2,     // srcAddr, dstAddr (u32)
    kIpv6Flow = 3,     // srcAddr[2], dstAddr[2] (u64)
    kFlowMisc = 4,   // input, output (u32); srcMask, dstMask, dir, dstTos, biFlowDir, flowEndReason, revTcpFlags, fill
    kCntFlow = 5,    // flows, outPackets, outBytes (u64)
    kVlan = 6,       // srcVlan, dstVlan (u32)
    kAsRouting = 7,  // srcAS, dstAS (u32)
    kBgpNextHopV4 = 8,   // u32
    kBgpNextHopV6 = 9,   // u64[2]
    kIpNextHopV4 = 10,   // u32
    kIpNextHopV6 = 11,   // u64[2]
    kIpReceivedV4 = 12,  // u32: the exporter's address
    kIpReceivedV6 = 13,  // u64[2]
    kMacAddr = 15,       // inSrcMac, outDstMac, inDstMac, outSrcMac (u64)
};
// Sampling is not an element nfdump 1.7.1 reads (its EXsamplerInfo, 18, is announced as unknown): a record
// flagged sampled takes the rate of the last sampler record (kTypeSampler) of its exporter, as nfcapd does.
inline constexpr std::uint16_t kGenericFlowBytes = 4 + 48;
inline constexpr std::uint16_t kIpv4FlowBytes = 4 + 8;
inline constexpr std::uint16_t kIpv6FlowBytes = 4 + 32;
inline constexpr std::uint16_t kFlowMiscBytes = 4 + 16;
inline constexpr std::uint16_t kVlanBytes = 4 + 8;
inline constexpr std::uint16_t kAsRoutingBytes = 4 + 8;
inline constexpr std::uint16_t kAddressV4Bytes = 4 + 4;
inline constexpr std::uint16_t kAddressV6Bytes = 4 + 16;
inline constexpr std::uint16_t kMacAddrBytes = 4 + 32;
inline constexpr std::size_t kMaxV3RecordBytes = kV3HeaderBytes + kGenericFlowBytes + kIpv6FlowBytes + kFlowMiscBytes +
                                                 kVlanBytes + kAsRoutingBytes + 3 * kAddressV6Bytes + kMacAddrBytes;

template <typename T>
T load(const std::uint8_t* p) noexcept {
    T value;
    std::memcpy(&value, p, sizeof(T));
    return value;
}

template <typename T>
void store(std::uint8_t* p, T value) noexcept {
    std::memcpy(p, &value, sizeof(T));
}

}  // namespace flowguard::exporters::nfdump
