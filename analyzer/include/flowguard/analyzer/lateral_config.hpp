#pragma once
// `analyzer.lateral:`: the model of the network the lateral-movement stage works from. What is internal comes
// from `pipeline.internal_networks`; here: the administrative services (editable), asset groups, watched
// hosts, the learning period, the graph's bounds, each detection's thresholds and the state file.
#include <flowguard/core/clock.hpp>
#include <flowguard/core/config.hpp>
#include <flowguard/core/network_set.hpp>

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

namespace flowguard::analyzer {

// What a service is to the detections.
enum class ServiceClass : std::uint8_t {
    remote_admin,  // interactive or remote execution: RDP, WinRM, SSH, Telnet, VNC, RPC/DCOM (WMI, PsExec)
    file,          // SMB: file access, and PsExec's service pipes
    directory,     // LDAP, Kerberos: every host uses them with the domain controllers
    data,          // MSSQL and the like
};

struct PortRange {
    std::uint8_t proto = 6;  // 6 tcp, 17 udp
    std::uint16_t first = 0;
    std::uint16_t last = 0;
};

struct AdminService {
    std::string name;              // "rdp": in evidence and in `flowguard graph`
    std::vector<PortRange> ports;  // "tcp/3389", "udp/3389", "tcp/5900-5903"
    ServiceClass service_class = ServiceClass::remote_admin;
    std::vector<std::string> techniques;  // ATT&CK ids a new edge on it is reported with
};

// The built-in list (SMB, RDP, WinRM, RPC endpoint mapper, SSH, Telnet, VNC, LDAP, Kerberos, MSSQL). The dynamic
// RPC range is not a service of its own: a contact in it counts as "rpc" when it follows a 135 contact between
// the same pair (WMI, DCOM, service control: PsExec's second half).
std::vector<AdminService> default_admin_services();

// Group names with a meaning: their members take that role without learning it.
inline constexpr std::string_view kDomainControllers = "domain-controllers";
inline constexpr std::string_view kAdminWorkstations = "admin-workstations";
// Fan-out by design: software deployment, backup, scanners, the NMS.
inline constexpr std::string_view kFanOutGroups[] = {"nms", "backup", "scanners", "deployment"};

struct AssetGroup {
    std::string name;
    std::vector<std::string> members;  // CIDRs or addresses, as written
    NetworkSet networks;
};

struct LateralConfig {
    bool enabled = true;
    std::vector<AdminService> services = default_admin_services();
    std::uint16_t rpc_dynamic_low = 49152;                // the dynamic RPC range's first port (Windows: 49152)
    std::uint64_t rpc_follow_ns = 120 * kSecondNs;        // a dynamic-port contact this soon after 135 is RPC
    std::vector<AssetGroup> groups;                       // first match wins
    std::vector<std::string> watched_hosts;               // addresses, CIDRs or group names
    std::uint64_t learning_ns = 7 * 86'400 * kSecondNs;   // event time from the first record (or a baseline's)
    std::uint64_t edge_ttl_ns = 45 * 86'400 * kSecondNs;  // an edge unused this long is forgotten
    std::size_t max_edges = 2'000'000;                    // stalest evicted first, counted
    std::size_t max_hosts = 500'000;                      // hosts beyond it are not tracked, counted
    // New edges: score = source novelty x destination rarity x group factor (docs/DETECTION.md).
    double new_edge_min_score = 0.4;  // below: learned silently
    double new_edge_high_score = 0.7;
    // Fan-out: distinct hosts one source reaches on new, uncommon edges within a window.
    std::uint64_t fanout_window_ns = 600 * kSecondNs;
    std::size_t fanout_min_hosts = 8;
    double fanout_baseline_factor = 3;  // ... and this many times the source's own busiest window
    // Chains: A -> B then B -> C on admin services within the window, one of the hops new.
    std::uint64_t chain_window_ns = 3600 * kSecondNs;
    // DCSync shape: RPC from a non-DC to a DC (135, then the dynamic range) answered with this many bytes.
    std::uint64_t dcsync_min_bytes = 1u << 20;
    // Directory volume (Kerberoasting, LDAP enumeration): a host's hourly Kerberos/LDAP flows or answer bytes
    // to the DCs above this floor and this many times its own busiest hour.
    std::uint64_t directory_min_flows = 200;
    std::uint64_t directory_min_bytes = 20u << 20;
    double directory_factor = 4;
    // Alert budget: a finding waits this long (event time) for findings that absorb it (a chain its hops, a
    // sweep its edges); then one alert per origin host leaves, and later findings of that host within
    // `incident_ns` are folded in unless they escalate (a higher kind or severity).
    std::uint64_t hold_ns = 300 * kSecondNs;
    std::uint64_t incident_ns = 86'400 * kSecondNs;
    // Saved on stop and every save_interval (event time), restored at start ("" = not kept).
    std::string state_file;
    std::uint64_t save_interval_ns = 3600 * kSecondNs;
};

void read_lateral_config(const YAML::Node& node, const std::string& key, LateralConfig& out);  // throws ConfigError
void write_lateral_config(YAML::Emitter& out, const LateralConfig& c);

std::string port_range_text(const PortRange& range);  // "tcp/5900-5903"
std::string_view service_class_name(ServiceClass c) noexcept;

}  // namespace flowguard::analyzer
