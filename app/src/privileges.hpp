#pragma once
// Least privilege for `run` and `collect`. Started as root (by hand, or by a unit without DynamicUser), the
// daemon drops what it does not need once its listening sockets and captures are open and before any thread
// starts (capabilities belong to each thread): every capability except CAP_NET_RAW while a live capture is
// open, the bounding and ambient sets too, and with `privileges.user` uid 0 itself. PR_SET_NO_NEW_PRIVS is
// set in every case, so nothing the process executes can gain privileges.
#include <yaml-cpp/yaml.h>

#include <string>

namespace flowguard {

struct PrivilegeConfig {
    std::string user;  // "" = keep the uid started with (as root: uid 0 without capabilities, with a warning)
};

void read_privilege_config(const YAML::Node& node, PrivilegeConfig& out);
void write_privilege_config(YAML::Emitter& out, const PrivilegeConfig& p);

// What the process holds after drop_privileges, for the log line and the tests.
struct PrivilegeState {
    unsigned uid = 0;
    unsigned gid = 0;
    bool net_raw = false;  // CAP_NET_RAW kept (a live capture is open)
};

// Throws std::runtime_error saying which step failed (an unknown user, setuid refused, ...).
PrivilegeState drop_privileges(const PrivilegeConfig& config, bool keep_net_raw);

}  // namespace flowguard
