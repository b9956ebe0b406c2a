#pragma once
// Which records a stage with a global view wants from every shard (docs/ARCHITECTURE.md, "A stage with a
// global view"). The selection is data, evaluated inline per record by each shard's forwarder: a few ANDs and
// two bit tests, no virtual call, no allocation. Admin-service edges between internal hosts are a small share
// of traffic, so the global thread's cost follows them, not the traffic.
#include <flowguard/core/flow_record.hpp>
#include <flowguard/core/network_set.hpp>

#include <bitset>
#include <cstdint>

namespace flowguard {

struct ForwardSelection {
    NetworkSet internal;                 // both ends in here ...
    std::bitset<65536> ports;            // ... and either port in here (requests and their answers)
    std::uint16_t dynamic_low_port = 0;  // ... or both ports at or above this (0 = not wanted): dynamic RPC
    NetworkSet watched;                  // or either end in here, whatever the other end

    bool wants(const FlowRecord& r) const noexcept {
        if (!watched.empty() && (watched.contains(r.src_addr) || watched.contains(r.dst_addr))) return true;
        if (!ports.test(r.dst_port) && !ports.test(r.src_port) &&
            (dynamic_low_port == 0 || r.src_port < dynamic_low_port || r.dst_port < dynamic_low_port))
            return false;
        return internal.contains(r.src_addr) && internal.contains(r.dst_addr);
    }
};

}  // namespace flowguard
