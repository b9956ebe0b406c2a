#pragma once
// Flow records in nfdump's own file format (layout 2 with V3 records, as nfcapd 1.7 writes it), so that
// `nfdump -r/-R`, its filters and `nfexpire` work on flowguard's archive, and flowguard reads nfcapd's files.
//
// A file is a 40-byte header, data blocks (a 12-byte block header and up to 1 MiB of records, LZ4-compressed
// or not) and an appendix block (an ident and the file's statistics). The header is written again when the
// file is closed, with the block count and where the appendix starts: a file that was never closed (a crash)
// still says 0 blocks, which nfdump reads as empty and NfdumpFileReader recovers block by block up to the
// first incomplete one. Byte order is the host's (nfdump's files are native-endian; the magic tells).
#include <flowguard/core/flow_record.hpp>

#include <boost/container/vector.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace flowguard::exporters {

class FlowFilter;

enum class NfdumpCompression : std::uint8_t { none = 0, lzo = 1, bz2 = 2, lz4 = 3 };

// The totals nfdump keeps in a file's appendix (`nfdump -I` prints them; nfexpire sums them), in the order and
// layout of nfdump's stat_record_t: the appendix holds this struct as it is.
struct NfdumpFileStats {
    std::uint64_t flows = 0, bytes = 0, packets = 0;
    std::uint64_t flows_tcp = 0, flows_udp = 0, flows_icmp = 0, flows_other = 0;
    std::uint64_t bytes_tcp = 0, bytes_udp = 0, bytes_icmp = 0, bytes_other = 0;
    std::uint64_t packets_tcp = 0, packets_udp = 0, packets_icmp = 0, packets_other = 0;
    std::uint64_t first_ms = 0, last_ms = 0;
    std::uint64_t sequence_failures = 0;

    void add(const FlowRecord& r) noexcept;
};

// Writes one file. Not thread-safe: an archive gives each file one writer. Errors (open, write, a full disk)
// throw std::system_error naming the file; what was written before stays readable by NfdumpFileReader.
class NfdumpFileWriter {
public:
    static constexpr std::size_t kBlockBytes = 1 << 20;  // nfdump's WRITE_BUFFSIZE: its readers expect <= 5 MiB

    NfdumpFileWriter(std::string path, NfdumpCompression compression, std::string ident = "flowguard");
    ~NfdumpFileWriter();  // closes if still open (errors logged, not thrown)
    NfdumpFileWriter(const NfdumpFileWriter&) = delete;
    NfdumpFileWriter& operator=(const NfdumpFileWriter&) = delete;

    void append(const FlowRecord& record);
    // Writes the pending block, the appendix and the final header, then closes. Idempotent.
    void close();
    // Closes without completing (after a failed write): the blocks written stay readable by NfdumpFileReader.
    void abandon() noexcept;

    const NfdumpFileStats& stats() const noexcept { return stats_; }
    std::uint64_t bytes_written() const noexcept { return offset_; }
    const std::string& path() const noexcept { return path_; }

private:
    struct ExporterKey {
        IpAddress address;
        std::uint32_t domain = 0;
        FlowType type = FlowType::unknown;
        bool operator==(const ExporterKey&) const = default;
    };
    struct ExporterKeyHash {
        std::size_t operator()(const ExporterKey& k) const noexcept;
    };

    std::uint16_t exporter_of(const FlowRecord& record);
    void note_sampling(std::uint16_t exporter, std::uint64_t rate);
    void reserve(std::size_t bytes);
    void complete();
    void write_block(std::uint32_t records, std::span<const std::uint8_t> payload);
    void write_at(std::uint64_t offset, const void* data, std::size_t size);
    std::vector<std::uint8_t> header(std::uint32_t blocks, std::uint64_t appendix_offset) const;

    std::string path_;
    NfdumpCompression compression_;
    std::string ident_;
    int fd_ = -1;
    std::uint64_t offset_ = 0;
    std::uint32_t blocks_ = 0;
    std::uint32_t block_records_ = 0;
    // Uncompressed records of the block being filled. Grown without zero-filling (default_init): every byte of
    // a record is written by its encoder, and zeroing ~200 bytes per record was 3 % of collect --archive.
    boost::container::vector<std::uint8_t> block_;
    std::vector<std::uint8_t> compressed_;  // scratch for LZ4
    NfdumpFileStats stats_;
    boost::unordered_flat_map<ExporterKey, std::uint16_t, ExporterKeyHash> exporters_;
    // The last exporter looked up: a datagram's records come from one exporter, and the hash lookup per record
    // was 7 % of collect --archive.
    std::optional<std::pair<ExporterKey, std::uint16_t>> last_exporter_;
    std::vector<std::uint64_t> sampling_;  // by exporter sysid: the rate of its last sampler record
    std::int64_t created_s_ = 0;
};

// What reading found besides flows: a reader never throws on content, it counts and stops.
struct NfdumpReadCounters {
    std::uint64_t blocks = 0;
    std::uint64_t records = 0;             // flow records read (returned, or tested by `keep`)
    std::uint64_t skipped_records = 0;     // records of types flowguard does not read (nfdump's internal ones)
    std::uint64_t damaged_blocks = 0;      // a block cut short, not decompressible or with inconsistent records
    std::uint64_t unsupported_blocks = 0;  // nfdump 1.6's block type 2: convert with `nfdump -r old -w new`
    bool unclosed = false;                 // the header says no blocks, yet blocks follow: a writer that died
};

// A reader's two block buffers (the block as stored, and decompressed), 5 MiB each. A scan of many files keeps
// one set per thread: fresh buffers for every file would be faulted in again each time.
struct NfdumpReadBuffers {
    std::unique_ptr<std::uint8_t[]> raw;
    std::unique_ptr<std::uint8_t[]> payload;
    NfdumpReadBuffers();
};

// Reads one file block by block, with bounds checks everywhere (a hostile or half-written file is counted and
// ends the read, never a crash). Throws std::runtime_error only when the file cannot be opened or is not an
// nfdump file of layout 2 (nfdump 1.6 files: `nfdump -r old -w new` converts them).
class NfdumpFileReader {
public:
    // With `buffers`, reads into those (they must outlive the reader); without, into its own.
    explicit NfdumpFileReader(const std::string& path, NfdumpReadBuffers* buffers = nullptr);
    ~NfdumpFileReader();
    NfdumpFileReader(const NfdumpFileReader&) = delete;
    NfdumpFileReader& operator=(const NfdumpFileReader&) = delete;

    // The next block's flow records into `out` (cleared first); false at the end of the data. With `keep`, only
    // the records it matches (tested as each is parsed, so a scan never copies the rest); a block where none
    // matched gives an empty `out` and true.
    bool next(std::vector<FlowRecord>& out, const FlowFilter* keep = nullptr);
    // From now on records carry only what the generic flow and address elements hold (times, volumes, ports,
    // protocol, flags, TOS, addresses; no exporter, interfaces, AS, next hops, MACs), unless `keep` reads more:
    // for consumers that read nothing else, the rest of each record is not parsed.
    void read_core_fields_only() noexcept { core_only_ = true; }

    const NfdumpReadCounters& counters() const noexcept { return counters_; }
    // The appendix's statistics and ident, when the file was closed properly.
    const std::optional<NfdumpFileStats>& stats() const noexcept { return stats_; }
    const std::string& ident() const noexcept { return ident_; }
    NfdumpCompression compression() const noexcept { return compression_; }

private:
    struct Exporter {
        IpAddress address;
        std::uint32_t domain = 0;
        FlowType type = FlowType::unknown;
        std::uint64_t sampling_rate = 0;  // its last sampler record's
    };

    bool read_block(std::span<const std::uint8_t>& payload, std::uint32_t& records, std::uint16_t& type);
    void read_appendix();
    void parse_block(std::span<const std::uint8_t> payload, std::uint32_t records, std::vector<FlowRecord>& out,
                     const FlowFilter* keep);
    bool parse_v3(const std::uint8_t* p, std::size_t size, FlowRecord& r) const;
    static bool parse_core(const std::uint8_t* p, std::size_t size, FlowRecord& r);

    std::string path_;
    std::FILE* file_ = nullptr;
    NfdumpCompression compression_ = NfdumpCompression::none;
    std::uint32_t blocks_total_ = 0;  // 0 with `unclosed`: read until the data ends
    std::uint64_t appendix_offset_ = 0;
    std::uint64_t file_size_ = 0;
    std::uint32_t blocks_read_ = 0;
    bool done_ = false;
    bool core_only_ = false;
    // Allocated at the largest block size, never zero-filled: a scan reads hundreds of blocks a second.
    std::unique_ptr<NfdumpReadBuffers> own_buffers_;
    std::uint8_t* raw_ = nullptr;
    std::uint8_t* payload_ = nullptr;
    boost::unordered_flat_map<std::uint16_t, Exporter> exporters_;
    std::optional<NfdumpFileStats> stats_;
    std::string ident_;
    NfdumpReadCounters counters_;
};

}  // namespace flowguard::exporters
