# Sourced by the comparison scripts: UDP ports on 127.0.0.1 for the collectors they start.

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits (up to 60 s) until something listens on UDP port $1: FastNetMon first fills its per-host counters,
# nfacctd starts its plugins.
wait_listening() {
  local i; for i in $(seq 600); do
    awk -v p=$(printf ':%04X' "$1") '$2 ~ p"$" {found=1} END {exit !found}' /proc/net/udp && return 0
    sleep 0.1
  done
  echo "nothing listens on UDP port $1" >&2; return 1
}
