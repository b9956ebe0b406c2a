#include "privileges.hpp"

#include <flowguard/core/config.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <grp.h>
#include <pwd.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace flowguard {
namespace {

[[noreturn]] void fail(const char* step) {
    throw std::runtime_error(fmt::format("dropping privileges: {}: {}", step, std::strerror(errno)));
}

bool holds_any_capability() {
    const std::unique_ptr<std::remove_pointer_t<cap_t>, decltype(&cap_free)> caps(cap_get_proc(), &cap_free);
    const std::unique_ptr<std::remove_pointer_t<cap_t>, decltype(&cap_free)> none(cap_init(), &cap_free);
    return caps && none && cap_compare(caps.get(), none.get()) != 0;
}

// Permitted and effective: CAP_NET_RAW or nothing; inheritable and ambient: nothing.
void set_capabilities(bool net_raw) {
    const std::unique_ptr<std::remove_pointer_t<cap_t>, decltype(&cap_free)> caps(cap_init(), &cap_free);
    if (!caps) fail("cap_init");
    if (net_raw) {
        const cap_value_t raw[] = {CAP_NET_RAW};
        if (cap_set_flag(caps.get(), CAP_PERMITTED, 1, raw, CAP_SET) != 0 ||
            cap_set_flag(caps.get(), CAP_EFFECTIVE, 1, raw, CAP_SET) != 0)
            fail("cap_set_flag");
    }
    if (cap_set_proc(caps.get()) != 0) fail("cap_set_proc");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) fail("clearing ambient");
}

// Needs CAP_SETPCAP: done while the process still has it.
void drop_bounding_set(bool net_raw) {
    for (cap_value_t cap = 0; cap <= CAP_LAST_CAP; ++cap) {
        if (net_raw && cap == CAP_NET_RAW) continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) fail("PR_CAPBSET_DROP");
    }
}

}  // namespace

void read_privilege_config(const YAML::Node& n, PrivilegeConfig& p) {
    yaml::require_known_keys(n, "privileges", {"user"});
    if (n["user"]) p.user = yaml::scalar(n["user"], "privileges.user");
}

void write_privilege_config(YAML::Emitter& out, const PrivilegeConfig& p) {
    out << YAML::BeginMap << YAML::Key << "user" << YAML::Value << p.user << YAML::EndMap;
}

PrivilegeState drop_privileges(const PrivilegeConfig& config, bool keep_net_raw) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("PR_SET_NO_NEW_PRIVS");
    PrivilegeState state{static_cast<unsigned>(geteuid()), static_cast<unsigned>(getegid()), false};
    const bool privileged = geteuid() == 0 || holds_any_capability();
    if (!privileged) {
        if (!config.user.empty() && config.user != std::to_string(getuid())) {
            const passwd* pw = getpwnam(config.user.c_str());
            if (pw == nullptr || pw->pw_uid != getuid())
                spdlog::warn("privileges.user {}: not root, so the uid stays {}", config.user, getuid());
        }
        return state;
    }
    const bool net_raw = keep_net_raw && CAP_IS_SUPPORTED(CAP_NET_RAW);
    const passwd* pw = nullptr;
    if (!config.user.empty()) {
        errno = 0;
        pw = getpwnam(config.user.c_str());
        if (pw == nullptr)
            throw std::runtime_error(fmt::format("privileges.user {}: no such user{}", config.user,
                                                 errno != 0 ? fmt::format(" ({})", std::strerror(errno)) : ""));
    }
    drop_bounding_set(net_raw);
    if (pw != nullptr) {
        // Keeps the permitted set across setuid, so CAP_NET_RAW can be made effective again after it.
        if (net_raw && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) fail("PR_SET_KEEPCAPS");
        const gid_t gid = pw->pw_gid;
        if (setgroups(1, &gid) != 0) fail("setgroups");
        if (setresgid(gid, gid, gid) != 0) fail("setresgid");
        if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) fail("setresuid");
        if (geteuid() == 0 || getuid() == 0)
            throw std::runtime_error("dropping privileges: still uid 0 after setresuid");
    }
    set_capabilities(net_raw);
    if (net_raw && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) fail("PR_SET_KEEPCAPS");
    state = {static_cast<unsigned>(geteuid()), static_cast<unsigned>(getegid()), net_raw};
    if (pw == nullptr && state.uid == 0)
        spdlog::warn(
            "running as root: every capability dropped{}, but the uid stays 0; set privileges.user to an "
            "unprivileged user (or run under deploy/systemd/flowguard.service)",
            net_raw ? " except CAP_NET_RAW (live capture)" : "");
    spdlog::info("privileges: uid {}, gid {}, capabilities: {}, no_new_privs", state.uid, state.gid,
                 net_raw ? "cap_net_raw" : "none");
    return state;
}

}  // namespace flowguard
