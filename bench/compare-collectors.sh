#!/usr/bin/env bash
# Same flowgen traffic into flowguard, nfcapd (nfdump) and nfacctd (pmacct), one after another, in the
# same run. For each: records sent, records received, loss, and CPU seconds (user+sys of the collector's
# processes, kernel receive included) per million records. Medians over --runs, and flowguard's ratio.
#
#   bench/compare-collectors.sh [--version 10] [--rate 25000] [--duration 10] [--runs 3] [--exporters 4]
#                               [--max-rates "25000 50000 100000 200000"]
# --max-rates: also find, per collector, the highest of these packet rates received with zero loss.
# Needs the release build (cmake --preset release && cmake --build --preset release) and the packages of
# deploy/setup.sh. Traffic goes to 127.0.0.1 only.
set -euo pipefail

version=10; rate=25000; duration=10; runs=3; exporters=4; max_rates=""
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=$2; shift ;;
    --rate) rate=$2; shift ;;
    --duration) duration=$2; shift ;;
    --runs) runs=$2; shift ;;
    --exporters) exporters=$2; shift ;;
    --max-rates) max_rates=$2; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

root=$(cd "$(dirname "$0")/.." && pwd)
flowguard=$root/build/release/app/flowguard
flowgen=$root/build/release/bench/flowgen
[ -x "$flowguard" ] && [ -x "$flowgen" ] || { echo "build the release preset first" >&2; exit 2; }
work=$(mktemp -d /tmp/compare-collectors.XXXXXX)
trap 'pkill -P $$ 2>/dev/null || true; rm -rf "$work"' EXIT
hz=$(getconf CLK_TCK)

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# CPU ticks (user+sys) of a process and its descendants that are still alive.
cpu_ticks() {
  local total=0 pid
  for pid in $1 $(pgrep -P "$1" 2>/dev/null || true); do
    [ -r /proc/$pid/stat ] && total=$((total + $(awk '{print $14+$15}' /proc/$pid/stat)))
  done
  echo $total
}
# Kernel drops on the UDP socket bound to a port (last column of /proc/net/udp).
udp_drops() { awk -v p=$(printf ':%04X' "$1") '$2 ~ p"$" {d+=$NF} END {print d+0}' /proc/net/udp; }

run_one() {  # collector rate -> "sent received cpu_seconds"
  local collector=$1 pps=$2 port dir pid sent received ticks
  port=$(free_port); dir=$work/$collector-$pps-$RANDOM; mkdir -p "$dir"
  case $collector in
    flowguard) "$flowguard" collect --listen udp://127.0.0.1:$port --format none 2> "$dir/err" & pid=$! ;;
    nfcapd) nfcapd -b 127.0.0.1 -p $port -w "$dir" -t 86400 > /dev/null 2>&1 & pid=$! ;;
    nfacctd)
      cat > "$dir/nfacctd.conf" <<CONF
daemonize: false
nfacctd_ip: 127.0.0.1
nfacctd_port: $port
nfacctd_pipe_size: 33554432
plugins: print[p]
aggregate[p]: src_host, dst_host, proto
print_output[p]: csv
print_output_file[p]: $dir/out.csv
print_refresh_time[p]: 3600
CONF
      nfacctd -f "$dir/nfacctd.conf" > "$dir/err" 2>&1 & pid=$! ;;
  esac
  sleep 1
  local base; base=$(cpu_ticks $pid)
  sent=$("$flowgen" --dest 127.0.0.1:$port --version "$version" --rate "$pps" --duration "$duration" \
           --exporters "$exporters" | python3 -c 'import sys,json; print(json.load(sys.stdin)["records"])')
  sleep 1
  ticks=$(( $(cpu_ticks $pid) - base ))
  local kdrops; kdrops=$(udp_drops $port)
  stop_collector $pid
  case $collector in
    flowguard) received=$(tail -1 "$dir/err" | python3 -c 'import sys,json; d=json.load(sys.stdin); print(d["records"]-d["ring_drops"])') ;;
    nfcapd) received=$(nfdump -R "$dir" -I | awk '/^Flows:/ {print $2}') ;;
    # nfacctd aggregates, so its output does not count records; its loss is what the kernel dropped,
    # in datagrams, converted at the mean records per datagram of this traffic.
    nfacctd) received=$(python3 -c "print(round($sent - $kdrops * $sent / max(1, $pps * $duration)))") ;;
  esac
  echo "$sent $received $(python3 -c "print($ticks / $hz)")"
}

# SIGTERM, then SIGKILL if the collector has not exited within 30 s (nfacctd's plugins can take long).
stop_collector() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    pkill -KILL -P "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

median() { python3 -c 'import sys,statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

echo "# flowgen -> collector on 127.0.0.1: version $version, $rate packets/s, ${duration}s, $exporters exporters, $runs runs"
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $(nfcapd -V 2>&1 | head -1); pmacct $(nfacctd -V 2>&1 | grep -o '[0-9]\+\.[0-9]\+\.[0-9]\+' | head -1)"
printf '%-10s %12s %12s %8s %10s %14s\n' collector sent received loss% cpu_s cpu_s_per_Mrec
declare -A per_m
for c in flowguard nfcapd nfacctd; do
  vals=()
  for i in $(seq "$runs"); do
    read -r sent received cpu < <(run_one $c "$rate")
    loss=$(python3 -c "print(round(100*($sent-$received)/$sent, 3))")
    pm=$(python3 -c "print(round($cpu / ($sent/1e6), 4))")
    printf '%-10s %12s %12s %8s %10s %14s\n' "$c" "$sent" "$received" "$loss" "$cpu" "$pm"
    vals+=("$pm")
  done
  per_m[$c]=$(median "${vals[@]}")
done
echo "# median CPU seconds per million records: flowguard ${per_m[flowguard]}, nfcapd ${per_m[nfcapd]}, nfacctd ${per_m[nfacctd]}"
python3 -c "f=${per_m[flowguard]}; print(f'# nfcapd / flowguard = {${per_m[nfcapd]}/f:.2f}x, nfacctd / flowguard = {${per_m[nfacctd]}/f:.2f}x')"

if [ -n "$max_rates" ]; then
  for c in flowguard nfcapd nfacctd; do
    best=0
    for pps in $max_rates; do
      read -r sent received cpu < <(run_one $c "$pps")
      [ "$sent" = "$received" ] && best=$pps
      echo "# $c at $pps packets/s: sent $sent received $received"
    done
    echo "# highest zero-loss rate for $c: $best packets/s"
  done
fi
