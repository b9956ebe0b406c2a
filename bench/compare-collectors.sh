#!/usr/bin/env bash
# The same traffic into flowguard and its peers - nfcapd (nfdump), nfacctd (pmacct), FastNetMon, and sfcapd for
# sFlow - one after another, in the same run. For each: records sent, records received, loss, and CPU seconds
# (user+sys of the collector's processes, kernel receive included) per million records. Medians over --runs,
# and each peer's ratio to flowguard.
#
#   bench/compare-collectors.sh [--version 10] [--rate 25000] [--duration 10] [--runs 3] [--exporters 4]
#                               [--batch 32] [--max-rates "25000 50000 100000 200000"]
#                               [--replay NAME=FILE[+FILE...]] [--run-format json|csv|none|archive]
#                               [--collectors "flowguard nfcapd nfacctd fastnetmon"] [--flowguard-config FILE]
# Collectors: flowguard (`collect --format none`), flowguard-run (the daemon with every detector on, flows
# written as JSON lines - or --run-format csv|none, or archive: into the archive (LZ4 nfcapd files, DNS events
# and alerts beside them) as `run` keeps them by default - alerts written, /metrics scraped every 5 s), nfcapd,
# sfcapd, nfacctd, fastnetmon; and recv-floor (bench/recv_floor: receives as flowguard does and decodes
# nothing - the kernel's share, a floor under every collector's CPU per record).
# Traffic: flowgen's generated v5/v9/IPFIX (--version), or with --replay a real exporter's capture (e.g.
# tests/fixtures/corpus/beacon-softflowd-ipfix.pcap) sent by replay_send as --exporters exporters, each from
# its own loopback address, sequence numbers moving on per loop as a live exporter's. --rate is datagrams/s.
# --batch: datagrams each exporter sends back to back (one sendmmsg). 32 sends bursts, which lets a
# collector that wakes per datagram read many at once; 1 spreads them out, as exporters that send each
# export packet when it fills do.
# --max-rates: also find, per collector, the highest of these packet rates received with zero loss; each
# such run also prints the datagrams the kernel dropped and, for flowguard, the records dropped at its rings.
# FLOWGUARD=/path/to/flowguard measures another build (an older commit's) in the same session.
# Needs the release build (cmake --preset release && cmake --build --preset release) and the packages of
# deploy/setup.sh. Traffic goes to 127.0.0.0/8 only. nfcapd reads no sFlow: use sfcapd for sFlow replays.
set -euo pipefail

version=10; rate=25000; duration=10; runs=3; exporters=4; batch=32; max_rates=""; replay=""
collectors="flowguard nfcapd nfacctd fastnetmon"; flowguard_config=""; run_format=json
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
    --replay) replay=$2; shift ;;
    --run-format) run_format=$2; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

root=$(cd "$(dirname "$0")/.." && pwd)
flowguard=${FLOWGUARD:-$root/build/release/app/flowguard}
flowgen=$root/build/release/bench/flowgen
replay_send=$root/build/release/bench/replay_send
recv_floor=$root/build/release/bench/recv_floor
[ -x "$flowguard" ] && [ -x "$flowgen" ] && [ -x "$replay_send" ] && [ -x "$recv_floor" ] || { echo "build the release preset first" >&2; exit 2; }
work=$(mktemp -d /tmp/compare-collectors.XXXXXX)
trap 'pkill -P $$ 2>/dev/null || true; rm -rf "$work"' EXIT

. "$root/bench/udp_ports.sh"  # free_port, wait_listening

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

# FastNetMon's shipped configuration with NetFlow/IPFIX and sFlow on 127.0.0.1 (sFlow on $2), bans, its API and
# its usage report off, counters for three /16 internal networks (a /8 would take 12 GB), Prometheus on $3.
fastnetmon_config() {
  local dir=$1 port=$2 metrics=$3 netflow_port sflow_port
  if [ "$traffic_is_sflow" = 1 ]; then sflow_port=$port; netflow_port=$(free_port); else netflow_port=$port; sflow_port=$(free_port); fi
  printf '10.0.0.0/16\n192.168.0.0/16\n172.16.0.0/16\n' > "$dir/networks"; : > "$dir/whitelist"
  awk -v dir="$dir" -v np="$netflow_port" -v sp="$sflow_port" -v mp="$metrics" '
    BEGIN { set["enable_ban"]="off"; set["enable_ban_ipv6"]="off"; set["netflow"]="on"; set["sflow"]="on";
            set["netflow_host"]="127.0.0.1"; set["netflow_port"]=np; set["sflow_host"]="127.0.0.1"; set["sflow_port"]=sp;
            set["disable_usage_report"]="on"; set["enable_api"]="off"; set["prometheus"]="on";
            set["prometheus_host"]="127.0.0.1"; set["prometheus_port"]=mp; set["pid_path"]=dir "/pid";
            set["cli_stats_file_path"]=dir "/stats"; set["cli_stats_ipv6_file_path"]=dir "/stats6";
            set["networks_list_path"]=dir "/networks"; set["white_list_path"]=dir "/whitelist"; set["interfaces"]="" }
    /^#/ || !/=/ { next }
    { key=$1; if (key in set) { print key " = " set[key]; delete set[key] } else print }
    END { for (k in set) print k " = " set[k] }' /etc/fastnetmon.conf > "$dir/fastnetmon.conf"
}

send_traffic() {  # port rate sender_json_file -> records sent
  if [ -n "$replay" ]; then
    "$replay_send" --dest 127.0.0.1:$1 --rate "$2" --duration "$duration" --copies "$exporters" --batch "$batch" "${replay#*=}"
  else
    "$flowgen" --dest 127.0.0.1:$1 --version "$version" --rate "$2" --duration "$duration" --exporters "$exporters" --batch "$batch"
  fi | tee "$3" | python3 -c 'import sys,json; print(json.load(sys.stdin)["records"])'
}

run_one() {  # collector rate -> "sent received cpu_seconds kernel_drops ring_drops"
  # kernel_drops: datagrams the collector's sockets dropped; ring_drops: records flowguard dropped between its
  # receive threads and shards ("-" for the others)
  local collector=$1 pps=$2 port dir pid sent received used_ns ring_drops=- metrics="" scraper=""
  port=$(free_port); dir=$work/$collector-$pps-$RANDOM; mkdir -p "$dir"
  case $collector in
    flowguard) "$flowguard" ${flowguard_config:+-c "$flowguard_config"} collect --listen udp://127.0.0.1:$port --format none 2> "$dir/err" & pid=$! ;;
    flowguard-run)  # the daemon, every detector on, flows and alerts written, /metrics scraped every 5 s
      metrics=$(free_port)
      local output_format=$run_format archive_line=""
      [ "$run_format" = archive ] && { output_format=none; archive_line="archive: {path: $dir/archive}"; }
      cat > "$dir/run.yml" <<CONF
collector: {listen: [udp://127.0.0.1:$port], state_file: $dir/templates.json}
analyzer: {lateral: {state_file: $dir/lateral.jsonl}}
metrics: {listen: 127.0.0.1:$metrics}
alerts: {path: $dir/alerts.jsonl, spool_dir: $dir/spool}
output: {path: $dir/flows.jsonl, format: $output_format}
$archive_line
CONF
      "$flowguard" -c "$dir/run.yml" run 2> "$dir/err" & pid=$!
      (while sleep 5; do curl -s -o /dev/null "http://127.0.0.1:$metrics/metrics"; done) & scraper=$! ;;
    nfcapd|sfcapd) $collector -b 127.0.0.1 -p $port -w "$dir" -t 86400 > /dev/null 2>&1 & pid=$! ;;
    recv-floor) "$recv_floor" $port > "$dir/floor.json" & pid=$! ;;  # receives, decodes nothing: the kernel's share
    fastnetmon)
      metrics=$(free_port)
      fastnetmon_config "$dir" "$port" "$metrics"
      fastnetmon --configuration_file "$dir/fastnetmon.conf" --log_file "$dir/log" --disable_pid_logic > /dev/null 2>&1 & pid=$! ;;
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
  wait_listening $port; sleep 1
  local base; base=$(cpu_ns $pid)
  sent=$(send_traffic $port "$pps" "$dir.sent.json")  # beside $dir: nfdump -R reads every file in it
  sleep 1
  used_ns=$(( $(cpu_ns $pid) - base ))
  local kdrops; kdrops=$(udp_drops $port)
  # FastNetMon counts in its metrics, refreshed about once a second.
  [ "$collector" = fastnetmon ] && { sleep 2; received=$(curl -s 127.0.0.1:$metrics/metrics | awk '$1 == "fastnetmon_total_simple_packets_processed" {print $2}'); }
  [ -n "$scraper" ] && { kill "$scraper"; wait "$scraper" 2>/dev/null || true; }
  stop_collector $pid
  case $collector in
    flowguard)
      read -r received ring_drops < <(tail -1 "$dir/err" | python3 -c 'import sys,json; d=json.load(sys.stdin); print(d["records"]-d["ring_drops"], d["ring_drops"])') ;;
    # Received: records written to the flow file (with --run-format none: decoded and not dropped; archive:
    # records in the archive's files); drops: at the rings, towards the global stage, at the output or archive.
    flowguard-run)
      read -r received ring_drops < <(tail -1 "$dir/err" | python3 -c '
import sys, json
d = json.load(sys.stdin); a = d.get("archive", {})
rings = d["ring_drops"] + d["global_forward_drops"]
outputs = d["records_lost"] + a.get("flows_dropped", 0) + a.get("flows_lost", 0)
received = {"none": d["records"] - rings, "archive": a.get("flows_written", 0)}.get(sys.argv[1], d["records_written"])
print(received, f"{rings}+{outputs}")' "$run_format") ;;
    nfcapd|sfcapd) received=$(nfdump -R "$dir" -I | awk '/^Flows:/ {print $2}') ;;
    # It counts datagrams, not records: received records are the sent ones in the share of datagrams it read.
    recv-floor) received=$(python3 -c 'import sys,json; s=json.load(open(sys.argv[1])); f=json.load(open(sys.argv[2])); print(round(s["records"]*min(1, f["datagrams"]/s["packets"])))' "$dir.sent.json" "$dir/floor.json") ;;
    # nfacctd aggregates, so its output does not count records; its loss is what the kernel dropped,
    # in datagrams, converted at the mean records per datagram of this traffic.
    nfacctd) received=$(python3 -c "print(round($sent - $kdrops * $sent / max(1, $pps * $duration)))") ;;
  esac
  # nfcapd writes ~300 MB per run: removed and flushed now, so the next run does not start behind a
  # writeback of this one's dirty pages (runs grew from 0.26 to 0.55 CPU s per million records without).
  rm -rf "$dir" "$dir.sent.json"; sync
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

traffic_is_sflow=0
if [ -n "$replay" ]; then
  first_file=${replay#*=}; first_file=${first_file%%+*}
  # sFlow v5 starts with the 32-bit version 5 (NetFlow/IPFIX with a 16-bit version); FastNetMon takes it on its sFlow port.
  case $(tshark -r "$first_file" -c 1 -T fields -e udp.payload 2>/dev/null) in 00000005*) traffic_is_sflow=1 ;; esac
  echo "# replay_send ${replay%%=*} ($first_file...) -> collector on 127.0.0.1: $rate datagrams/s, ${duration}s, $exporters exporters, batch $batch, $runs runs"
else
  echo "# flowgen -> collector on 127.0.0.1: version $version, $rate packets/s, ${duration}s, $exporters exporters, batch $batch, $runs runs"
fi
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $(nfcapd -V 2>&1 | head -1); pmacct $(nfacctd -V 2>&1 | grep -o '[0-9]\+\.[0-9]\+\.[0-9]\+' | head -1); fastnetmon $(dpkg-query -W -f '${Version}' fastnetmon 2>/dev/null || echo none)"
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
for ours in flowguard flowguard-run; do
  [ -n "${per_m[$ours]:-}" ] || continue
  for c in nfcapd sfcapd nfacctd fastnetmon; do
    if [ -n "${per_m[$c]:-}" ]; then python3 -c "print(f'# $c / $ours = {${per_m[$c]}/${per_m[$ours]}:.2f}x')"; fi
  done
done

if [ -n "$max_rates" ]; then
  for c in $collectors; do
    best=0
    for pps in $max_rates; do
      read -r sent received cpu kdrops ring_drops < <(run_one $c "$pps")
      [ "$sent" = "$received" ] && best=$pps
      echo "# $c at $pps packets/s: sent $sent received $received (datagrams dropped by the kernel: $kdrops, records dropped at the rings: $ring_drops)"
      if [ "$c" = flowguard-run ]; then echo "#   (flowguard-run: records dropped at the rings + by the flow output or archive)"; fi
    done
    echo "# highest zero-loss rate for $c: $best packets/s"
  done
fi
