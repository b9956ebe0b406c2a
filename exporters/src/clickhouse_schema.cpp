// ClickHouse's side of the sink: the schema, the rows in RowBinary, and retention by day partitions.
//
// The schema keeps to what ClickHouse 18.16 has (Debian 12's package): addresses are FixedString(16) holding
// IPv6 or IPv4-mapped addresses (IPv6NumToString prints them; the IPv6 type of 19.x+ has the same bytes),
// no TTL (19.6+), so retention drops whole day partitions itself; no LowCardinality and no skipping indexes.
#include <flowguard/core/clock.hpp>
#include <flowguard/exporters/clickhouse.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <ctime>

namespace flowguard::exporters {
namespace {

struct RowColumn {
    std::string_view name;
    std::string_view type;
    std::size_t width;  // bytes in RowBinary
};

// In RowBinary order: append_row below writes them in this order.
constexpr std::array kRowColumns{
    RowColumn{"TimeReceived", "DateTime", 4},
    RowColumn{"TimeFlowStart", "DateTime", 4},
    RowColumn{"TimeFlowEnd", "DateTime", 4},
    RowColumn{"DurationMs", "UInt32", 4},
    RowColumn{"Type",
              "Enum8('FLOWUNKNOWN' = 0, 'SFLOW_5' = 1, 'NETFLOW_V5' = 2, 'NETFLOW_V9' = 3, 'IPFIX' = 4, 'METER' = 5)",
              1},
    RowColumn{"ExporterAddress", "FixedString(16)", 16},
    RowColumn{"ExporterPort", "UInt16", 2},
    RowColumn{"SequenceNum", "UInt32", 4},
    RowColumn{"ObservationDomainId", "UInt32", 4},
    RowColumn{"SamplingRate", "UInt64", 8},
    RowColumn{"Bytes", "UInt64", 8},
    RowColumn{"Packets", "UInt64", 8},
    RowColumn{"SrcAddr", "FixedString(16)", 16},
    RowColumn{"DstAddr", "FixedString(16)", 16},
    RowColumn{"NextHop", "FixedString(16)", 16},
    RowColumn{"BgpNextHop", "FixedString(16)", 16},
    RowColumn{"EType", "UInt16", 2},
    RowColumn{"Proto", "UInt8", 1},
    RowColumn{"SrcPort", "UInt16", 2},
    RowColumn{"DstPort", "UInt16", 2},
    RowColumn{"InIf", "UInt32", 4},
    RowColumn{"OutIf", "UInt32", 4},
    RowColumn{"SrcMac", "UInt64", 8},
    RowColumn{"DstMac", "UInt64", 8},
    RowColumn{"SrcVlan", "UInt16", 2},
    RowColumn{"DstVlan", "UInt16", 2},
    RowColumn{"IpTos", "UInt8", 1},
    RowColumn{"IpTtl", "UInt8", 1},
    RowColumn{"TcpFlags", "UInt8", 1},
    RowColumn{"IcmpType", "UInt8", 1},
    RowColumn{"IcmpCode", "UInt8", 1},
    RowColumn{"ForwardingStatus", "UInt8", 1},
    RowColumn{"FlowEndReason", "UInt8", 1},
    RowColumn{"FlowDirection", "UInt8", 1},
    RowColumn{"SrcNetMask", "UInt8", 1},
    RowColumn{"DstNetMask", "UInt8", 1},
    RowColumn{"Ipv6FlowLabel", "UInt32", 4},
    RowColumn{"SrcAS", "UInt32", 4},
    RowColumn{"DstAS", "UInt32", 4},
    RowColumn{"NextHopAS", "UInt32", 4},
};

constexpr std::size_t row_width() {
    std::size_t sum = 0;
    for (const auto& c : kRowColumns) sum += c.width;
    return sum;
}
static_assert(row_width() == kClickHouseRowBytes, "kClickHouseRowBytes must be the columns' widths");

struct Rollup {
    std::string_view table;
    std::string_view bucket;  // the function that rounds TimeReceived down
};
constexpr std::array kRollups{Rollup{"flows_1m", "toStartOfMinute"}, Rollup{"flows_5m", "toStartOfFiveMinute"},
                              Rollup{"flows_1h", "toStartOfHour"}};

// A roll-up keeps the service port (the lower non-zero port of the two, usually the server's) instead of both
// ports: a client's connections to one service, each from a new ephemeral port, become one row per bucket.
constexpr std::string_view kServicePort = "if(DstPort = 0 OR (SrcPort != 0 AND SrcPort < DstPort), SrcPort, DstPort)";
constexpr std::string_view kRollupKey =
    "TimeReceived, SrcAddr, DstAddr, Proto, ServicePort, ExporterAddress, InIf, OutIf";

std::string local_name(const ClickHouseConfig& config, std::string_view table) {
    return config.cluster.empty() ? std::string(table) : fmt::format("{}_local", table);
}

std::string flows_table(const ClickHouseConfig& config) {
    std::string columns;
    for (const auto& c : kRowColumns) columns += fmt::format("    {} {},\n", c.name, c.type);
    columns.resize(columns.size() - 2);  // the last ",\n"
    // Sorted by five-minute bucket, then source and destination: a time range reads only its buckets, and within
    // them a host's rows are together (as source; the destination is second).
    return fmt::format(
        "CREATE TABLE IF NOT EXISTS {}.{} (\n{}\n) ENGINE = MergeTree\nPARTITION BY toYYYYMMDD(TimeReceived)\n"
        "ORDER BY (toStartOfFiveMinute(TimeReceived), SrcAddr, DstAddr)\nSETTINGS index_granularity = 8192",
        config.database, local_name(config, "flows"), columns);
}

std::string rollup_table(const ClickHouseConfig& config, const Rollup& rollup) {
    return fmt::format(
        "CREATE TABLE IF NOT EXISTS {}.{} (\n    TimeReceived DateTime,\n    ExporterAddress FixedString(16),\n"
        "    InIf UInt32,\n    OutIf UInt32,\n    SrcAddr FixedString(16),\n    DstAddr FixedString(16),\n"
        "    Proto UInt8,\n    ServicePort UInt16,\n    Bytes UInt64,\n    Packets UInt64,\n    Flows UInt64\n"
        ") ENGINE = SummingMergeTree((Bytes, Packets, Flows))\nPARTITION BY toYYYYMMDD(TimeReceived)\n"
        "ORDER BY ({})",
        config.database, local_name(config, rollup.table), kRollupKey);
}

std::string rollup_view(const ClickHouseConfig& config, const Rollup& rollup) {
    return fmt::format(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS {0}.{1}_mv TO {0}.{1} AS\nSELECT {2}(TimeReceived) AS TimeReceived, "
        "ExporterAddress, InIf, OutIf, SrcAddr, DstAddr, Proto, {3} AS ServicePort, Bytes, Packets, "
        "toUInt64(1) AS Flows\nFROM {0}.{4}",
        config.database, local_name(config, rollup.table), rollup.bucket, kServicePort, local_name(config, "flows"));
}

std::string distributed_table(const ClickHouseConfig& config, std::string_view table) {
    return fmt::format(
        "CREATE TABLE IF NOT EXISTS {0}.{1} AS {0}.{1}_local\nENGINE = Distributed({2}, {0}, {1}_local, rand())",
        config.database, table, config.cluster);
}

template <class T>
char* put_le(char* at, T value) {
    std::memcpy(at, &value, sizeof value);  // RowBinary is little-endian, as x86-64 and arm64 are
    return at + sizeof value;
}

char* put_address(char* at, const IpAddress& address) {
    std::memcpy(at, address.bytes().data(), 16);
    return at + 16;
}

std::uint32_t date_time(std::uint64_t ns) {
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(ns / kSecondNs, UINT32_MAX));
}

std::uint8_t type_code(FlowType type) {
    switch (type) {
        case FlowType::sflow5:
            return 1;
        case FlowType::netflow_v5:
            return 2;
        case FlowType::netflow_v9:
            return 3;
        case FlowType::ipfix:
            return 4;
        case FlowType::meter:
            return 5;
        case FlowType::unknown:
            break;
    }
    return 0;
}

char* append_row(char* at, const FlowRecord& r) {
    at = put_le(at, date_time(r.time_received_ns));
    at = put_le(at, date_time(r.time_flow_start_ns));
    at = put_le(at, date_time(r.time_flow_end_ns));
    const std::uint64_t duration_ms =
        r.time_flow_end_ns > r.time_flow_start_ns ? (r.time_flow_end_ns - r.time_flow_start_ns) / 1'000'000 : 0;
    at = put_le(at, static_cast<std::uint32_t>(std::min<std::uint64_t>(duration_ms, UINT32_MAX)));
    at = put_le(at, type_code(r.type));
    at = put_address(at, r.sampler_address);
    at = put_le(at, r.sampler_port);
    at = put_le(at, r.sequence_num);
    at = put_le(at, r.observation_domain_id);
    at = put_le(at, r.sampling_rate);
    at = put_le(at, r.bytes);
    at = put_le(at, r.packets);
    at = put_address(at, r.src_addr);
    at = put_address(at, r.dst_addr);
    at = put_address(at, r.next_hop);
    at = put_address(at, r.bgp_next_hop);
    at = put_le(at, r.etype);
    at = put_le(at, r.proto);
    at = put_le(at, r.src_port);
    at = put_le(at, r.dst_port);
    at = put_le(at, r.in_if);
    at = put_le(at, r.out_if);
    at = put_le(at, r.src_mac);
    at = put_le(at, r.dst_mac);
    at = put_le(at, r.src_vlan);
    at = put_le(at, r.dst_vlan);
    at = put_le(at, r.ip_tos);
    at = put_le(at, r.ip_ttl);
    at = put_le(at, r.tcp_flags);
    at = put_le(at, r.icmp_type);
    at = put_le(at, r.icmp_code);
    at = put_le(at, r.forwarding_status);
    at = put_le(at, r.flow_end_reason);
    at = put_le(at, static_cast<std::uint8_t>(r.direction));
    at = put_le(at, r.src_mask);
    at = put_le(at, r.dst_mask);
    at = put_le(at, r.ipv6_flow_label);
    at = put_le(at, r.src_as);
    at = put_le(at, r.dst_as);
    return put_le(at, r.next_hop_as);
}

// "20261207" -> the day's start; nullopt for another partition id (a table partitioned otherwise by hand).
std::optional<std::uint64_t> day_start_ns(std::string_view partition) {
    if (partition.size() != 8) return std::nullopt;
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(partition.data(), partition.data() + 8, value);
    if (ec != std::errc{} || end != partition.data() + 8) return std::nullopt;
    std::tm utc{};
    utc.tm_year = static_cast<int>(value / 10000) - 1900;
    utc.tm_mon = static_cast<int>(value / 100 % 100) - 1;
    utc.tm_mday = static_cast<int>(value % 100);
    if (utc.tm_year < 70 || utc.tm_mon < 0 || utc.tm_mon > 11 || utc.tm_mday < 1 || utc.tm_mday > 31)
        return std::nullopt;
    const std::time_t seconds = timegm(&utc);
    if (seconds < 0) return std::nullopt;
    return static_cast<std::uint64_t>(seconds) * kSecondNs;
}

}  // namespace

std::vector<std::string> clickhouse_schema(const ClickHouseConfig& config) {
    std::vector<std::string> statements{fmt::format("CREATE DATABASE IF NOT EXISTS {}", config.database),
                                        flows_table(config)};
    for (const auto& rollup : kRollups) statements.push_back(rollup_table(config, rollup));
    for (const auto& rollup : kRollups) statements.push_back(rollup_view(config, rollup));
    if (!config.cluster.empty()) {
        statements.push_back(distributed_table(config, "flows"));
        for (const auto& rollup : kRollups) statements.push_back(distributed_table(config, rollup.table));
    }
    return statements;
}

std::string clickhouse_insert_query(const ClickHouseConfig& config) {
    std::string names;
    for (const auto& c : kRowColumns)
        fmt::format_to(std::back_inserter(names), "{}{}", names.empty() ? "" : ", ", c.name);
    return fmt::format("INSERT INTO {}.flows ({}) FORMAT RowBinary", config.database, names);
}

std::vector<ClickHouseTableAge> clickhouse_retained_tables(const ClickHouseConfig& config) {
    const auto& r = config.retention;
    return {{local_name(config, "flows"), r.flows_ns},
            {local_name(config, "flows_1m"), r.flows_1m_ns},
            {local_name(config, "flows_5m"), r.flows_5m_ns},
            {local_name(config, "flows_1h"), r.flows_1h_ns}};
}

void append_clickhouse_rows(std::string& out, std::span<const FlowRecord> records) {
    // Rows are encoded a few at a time on the stack and appended: growing the string first would zero-fill
    // every byte before it is written.
    constexpr std::size_t kChunk = 32;
    char chunk[kChunk * kClickHouseRowBytes];
    for (std::size_t at = 0; at < records.size(); at += kChunk) {
        char* cursor = chunk;
        for (const auto& r : records.subspan(at, std::min(kChunk, records.size() - at))) cursor = append_row(cursor, r);
        out.append(chunk, static_cast<std::size_t>(cursor - chunk));
    }
}

std::string clickhouse_partitions_query(const ClickHouseConfig& config) {
    std::string tables;
    for (const auto& t : clickhouse_retained_tables(config))
        fmt::format_to(std::back_inserter(tables), "{}'{}'", tables.empty() ? "" : ", ", t.table);
    return fmt::format(
        "SELECT DISTINCT table, partition FROM system.parts WHERE active AND database = '{}' AND table IN ({}) "
        "ORDER BY table, partition FORMAT TabSeparated",
        config.database, tables);
}

std::vector<std::string> clickhouse_expired_partitions(const ClickHouseConfig& config, std::string_view parts,
                                                       std::uint64_t now_ns) {
    const auto tables = clickhouse_retained_tables(config);
    std::vector<std::string> drops;
    while (!parts.empty()) {
        const auto end = parts.find('\n');
        const auto line = parts.substr(0, end);
        parts = end == std::string_view::npos ? std::string_view{} : parts.substr(end + 1);
        const auto tab = line.find('\t');
        if (tab == std::string_view::npos) continue;
        const auto table = line.substr(0, tab);
        const auto partition = line.substr(tab + 1);
        const auto it = std::find_if(tables.begin(), tables.end(), [&](const auto& t) { return t.table == table; });
        const auto day = day_start_ns(partition);
        if (it == tables.end() || it->max_age_ns == 0 || !day) continue;
        // A day goes when all of it is older than the table's age: its end is at least max_age before now.
        if (*day + 86400 * kSecondNs + it->max_age_ns <= now_ns)
            drops.push_back(fmt::format("ALTER TABLE {}.{} DROP PARTITION {}", config.database, table, partition));
    }
    return drops;
}

void append_clickhouse_metric_specs(std::vector<MetricSpec>& catalog) {
    append_metric_specs(catalog, kClickHouseStats);
}

}  // namespace flowguard::exporters
