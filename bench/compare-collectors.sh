#!/usr/bin/env bash
# Same flowgen traffic into flowguard, nfcapd (nfdump) and nfacctd (pmacct), one after another, in the
# same run. For each: records sent, records received, loss, and CPU seconds (user+sys of the collector's
# processes, kernel receive included) per million records. Medians over --runs, and flowguard's ratio.
#
#   bench/compare-collectors.sh [--version 10] [--rate 25000] [--duration 10] [--runs 3] [--exporters 4]
#                               [--batch 32] [--max-rates "25000 50000 100000 200000"]
#                               [--collectors "flowguard nfcapd nfacctd"] [--flowguard-config FILE]
# --batch: datagrams each exporter sends back to back (one sendmmsg). 32 sends bursts, which lets a
# collector that wakes per datagram read many at once; 1 spreads them out, as exporters that send each
# export packet when it fills do.
# --max-rates: also find, per collector, the highest of these packet rates received with zero loss; each
# such run also prints the datagrams the kernel dropped and, for flowguard, the records dropped at its rings.
# FLOWGUARD=/path/to/flowguard measures another build (an older commit's) in the same session.
# Needs the release build (cmake --preset release && cmake --build --preset release) and the packages of
# deploy/setup.sh. Traffic goes to 127.0.0.1 only.
set -euo pipefail

version=10; rate=25000; duration=10; runs=3; exporters=4; batch=32; max_rates=""; collectors="flowguard nfcapd nfacctd"; flowguard_config=""
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=$2; shift ;;
    --rate) rate=$2; shift ;;
    --duration) duration=$2; shift ;;
    --runs) runs=$2; shift ;;
    --exporters) exporters=$2; shift ;;
    --batch) batch=$2; shift ;;
    --collectors) collectors=$2; shift ;;
    --flowguard-config) flowguard_config=$2; shift ;;
    --max-rates) max_rates=$2; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

root=$(cd "$(dirname "$0")/.." && pwd)
flowguard=${FLOWGUARD:-$root/build/release/app/flowguard}
flowgen=$root/build/release/bench/flowgen
[ -x "$flowguard" ] && [ -x "$flowgen" ] || { echo "build the release preset first" >&2; exit 2; }
work=$(mktemp -d /tmp/compare-collectors.XXXXXX)
trap 'pkill -P $$ 2>/dev/null || true; rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# CPU time (user+sys) in ns of a process's threads and of its children's threads that are alive: the
# scheduler's own runtime accounting (schedstat), exact, where /proc/PID/stat's clock ticks are
# sampled at 100 Hz and were seen to swing by 1.5x between identical runs.
cpu_ns() {
  local total=0 pid task
  for pid in $1 $(pgrep -P "$1" 2>/dev/null || true); do
    for task in /proc/$pid/task/*/schedstat; do
      [ -r "$task" ] && total=$((total + $(cut -d' ' -f1 "$task" 2>/dev/null || echo 0)))
    done
  done
  echo $total
}
# Kernel drops on the UDP socket bound to a port (last column of /proc/net/udp).
udp_drops() { awk -v p=$(printf ':%04X' "$1") '$2 ~ p"$" {d+=$NF} END {print d+0}' /proc/net/udp; }

run_one() {  # collector rate -> "sent received cpu_seconds kernel_drops ring_drops"
  # kernel_drops: datagrams the collector's sockets dropped; ring_drops: records flowguard dropped between its
  # receive threads and shards ("-" for the others)
  local collector=$1 pps=$2 port dir pid sent received used_ns ring_drops=-
  port=$(free_port); dir=$work/$collector-$pps-$RANDOM; mkdir -p "$dir"
  case $collector in
    flowguard) "$flowguard" ${flowguard_config:+-c "$flowguard_config"} collect --listen udp://127.0.0.1:$port --format none 2> "$dir/err" & pid=$! ;;
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
  local base; base=$(cpu_ns $pid)
  sent=$("$flowgen" --dest 127.0.0.1:$port --version "$version" --rate "$pps" --duration "$duration" \
           --exporters "$exporters" --batch "$batch" | python3 -c 'import sys,json; print(json.load(sys.stdin)["records"])')
  sleep 1
  used_ns=$(( $(cpu_ns $pid) - base ))
  local kdrops; kdrops=$(udp_drops $port)
  stop_collector $pid
  case $collector in
    flowguard)
      read -r received ring_drops < <(tail -1 "$dir/err" | python3 -c 'import sys,json; d=json.load(sys.stdin); print(d["records"]-d["ring_drops"], d["ring_drops"])') ;;
    nfcapd) received=$(nfdump -R "$dir" -I | awk '/^Flows:/ {print $2}') ;;
    # nfacctd aggregates, so its output does not count records; its loss is what the kernel dropped,
    # in datagrams, converted at the mean records per datagram of this traffic.
    nfacctd) received=$(python3 -c "print(round($sent - $kdrops * $sent / max(1, $pps * $duration)))") ;;
  esac
  # nfcapd writes ~300 MB per run: removed and flushed now, so the next run does not start behind a
  # writeback of this one's dirty pages (runs grew from 0.26 to 0.55 CPU s per million records without).
  rm -rf "$dir"; sync
  echo "$sent $received $(python3 -c "print(round($used_ns / 1e9, 4))") $kdrops $ring_drops"
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

echo "# flowgen -> collector on 127.0.0.1: version $version, $rate packets/s, ${duration}s, $exporters exporters, batch $batch, $runs runs"
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $(nfcapd -V 2>&1 | head -1); pmacct $(nfacctd -V 2>&1 | grep -o '[0-9]\+\.[0-9]\+\.[0-9]\+' | head -1)"
printf '%-10s %12s %12s %8s %10s %14s\n' collector sent received loss% cpu_s cpu_s_per_Mrec
declare -A per_m
for c in $collectors; do
  vals=()
  for i in $(seq "$runs"); do
    read -r sent received cpu _ _ < <(run_one $c "$rate")
    loss=$(python3 -c "print(round(100*($sent-$received)/$sent, 3))")
    pm=$(python3 -c "print(round($cpu / ($sent/1e6), 4))")
    printf '%-10s %12s %12s %8s %10s %14s\n' "$c" "$sent" "$received" "$loss" "$cpu" "$pm"
    vals+=("$pm")
  done
  per_m[$c]=$(median "${vals[@]}")
done
echo "# median CPU seconds per million records: $(for c in $collectors; do printf '%s %s, ' "$c" "${per_m[$c]}"; done | sed 's/, $//')"
if [ -n "${per_m[flowguard]:-}" ]; then
  for c in nfcapd nfacctd; do
    [ -n "${per_m[$c]:-}" ] && python3 -c "print(f'# $c / flowguard = {${per_m[$c]}/${per_m[flowguard]}:.2f}x')"
  done
fi

if [ -n "$max_rates" ]; then
  for c in $collectors; do
    best=0
    for pps in $max_rates; do
      read -r sent received cpu kdrops ring_drops < <(run_one $c "$pps")
      [ "$sent" = "$received" ] && best=$pps
      echo "# $c at $pps packets/s: sent $sent received $received (datagrams dropped by the kernel: $kdrops, records dropped at the rings: $ring_drops)"
    done
    echo "# highest zero-loss rate for $c: $best packets/s"
  done
fi
