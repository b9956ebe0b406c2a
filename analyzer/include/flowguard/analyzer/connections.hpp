#pragma once
// Connection reconstruction before scoring. An exporter or meter with an idle timeout (15 s: Cisco's and
// flowguard meter's default) cuts a long-lived session into one record per keep-alive, and an active timeout
// cuts a busy tunnel into one record per interval; counted as connections, a chat client's 30 s websocket
// ping or a VPN's 22 s UDP keep-alive would be a perfect beacon. A record continues a connection when its
// 5-tuple was seen within `timeout` of the record's start and, for TCP, it carries no SYN (a new connection
// on a reused port starts with one; a record without flags - an exporter that sends none - continues).
// TCP records with FIN or RST end their connection; most connections are short and whole in one record, so
// they are never stored. Bounded: connections quiet longer than the timeout are swept once per timeout of
// record time, and a full table loses its stalest eighth (counted).
#include <flowguard/core/ip_address.hpp>

#include <boost/unordered/unordered_flat_map.hpp>

#include <cstdint>
#include <vector>

namespace flowguard::analyzer {

struct ConnectionKey {
    IpAddress client;
    IpAddress server;
    std::uint16_t client_port = 0;
    std::uint16_t server_port = 0;
    std::uint8_t proto = 0;
    friend bool operator==(const ConnectionKey&, const ConnectionKey&) = default;
};

struct Connection {
    std::uint64_t start_ns = 0;
    std::uint64_t last_ns = 0;  // end of the latest record
    std::uint64_t bytes = 0;
    std::uint64_t noted_ns = 0;  // when the owner last noted it (e.g. for popularity); the owner's to set
    std::uint32_t records = 0;
    std::uint32_t domain = 0;  // the owner's: the name the client resolved for the server (PassiveDns id)
    bool reported = false;     // the owner's: a finding about this connection was decided
};

class ConnectionTracker {
public:
    ConnectionTracker(std::uint64_t timeout_ns, std::size_t max_connections);

    struct Seen {
        Connection* connection;  // valid until the next observe()
        bool starts;             // the record opens a connection (its first record)
    };
    // `syn`: the record carries a SYN; `ended`: a FIN or RST (the connection is over: a whole short connection
    // is not kept at all, a long one's last record closes it).
    Seen observe(const ConnectionKey& key, std::uint64_t start_ns, std::uint64_t end_ns, std::uint64_t bytes, bool syn,
                 bool ended = false);

    std::size_t size() const noexcept { return table_.size(); }
    std::uint64_t evictions() const noexcept { return evictions_; }

private:
    struct KeyHash {
        std::size_t operator()(const ConnectionKey& k) const noexcept;
    };
    void sweep(std::uint64_t now_ns);
    void evict();

    boost::unordered_flat_map<ConnectionKey, Connection, KeyHash> table_;
    std::uint64_t timeout_ns_;
    std::size_t max_connections_;
    std::uint64_t latest_ns_ = 0;
    std::uint64_t next_sweep_ns_ = 0;
    std::uint64_t evictions_ = 0;
    // Not rebuilt after erasures: connections come and go entry by entry, like the meter's flows, and a rebuild
    // (fresh arrays, page faults) costs more than the probe drift it removes (core/flat_map_rebuild.hpp).
    Connection scratch_connection_;  // what a whole short connection's record is seen as (never stored)
    std::vector<std::uint64_t> scratch_;
};

}  // namespace flowguard::analyzer
