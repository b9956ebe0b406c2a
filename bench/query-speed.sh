#!/usr/bin/env bash
# Scan speed of `flowguard query` beside `nfdump -R` on the same files and the same filters, min of ROUNDS runs
# (page cache warm: both read the files just read). Three archives:
#   lz4, plain  bench/archivegen's model traffic (FLOWS flows over 24 h, 5-minute files), LZ4 and uncompressed;
#   replay      what `collect --archive` wrote from a real exporter's export (softflowd IPFIX, 4 exporters,
#               sequence numbers moving), REPLAY_S seconds at 20,000 datagrams/s.
# Per query: flowguard on one thread (CPU = the per-core figure), flowguard on every core and nfdump (its own
# threads), wall and user+sys CPU from /usr/bin/time. Needs the release build.
#   bench/query-speed.sh [FLOWS] [ROUNDS] [REPLAY_S]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fg=$root/build/release/app/flowguard; gen=$root/build/release/bench/archivegen; rs=$root/build/release/bench/replay_send
[ -x "$fg" ] && [ -x "$gen" ] && [ -x "$rs" ] || { echo "build the release preset first" >&2; exit 2; }
. "$root/bench/udp_ports.sh"  # free_port, wait_listening
flows=${1:-10000000}; rounds=${2:-3}; replay_s=${3:-10}
work=$(mktemp -d /tmp/query-speed.XXXXXX)
trap 'pkill -P $$ 2>/dev/null || true; rm -rf "$work"' EXIT

"$gen" --flows "$flows" --output "$work/lz4" > /dev/null
"$gen" --flows "$flows" --output "$work/plain" --compression none > /dev/null
port=$(free_port)
"$fg" collect --listen udp://127.0.0.1:$port --format none --archive "$work/replay" > /dev/null 2>&1 & pid=$!
wait_listening $port
"$rs" --dest 127.0.0.1:$port --rate 20000 --duration "$replay_s" --copies 4 \
  "$root/tests/fixtures/corpus/beacon-softflowd-ipfix.pcap" > /dev/null
sleep 1; kill -TERM $pid; wait $pid || true

# min over rounds of "wall cpu" for a command (output discarded)
measure() {
  local best_wall=1e9 best_cpu=1e9
  for _ in $(seq "$rounds"); do
    /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" > /dev/null 2>&1
    read -r wall user sys < "$work/time"
    best_wall=$(python3 -c "print(min($best_wall, $wall))")
    best_cpu=$(python3 -c "print(min($best_cpu, round($user + $sys, 2)))")
  done
  echo "$best_wall $best_cpu"
}

printf '%-7s %-52s %10s | %8s %9s | %8s | %8s %8s | %6s %6s\n' archive query flows "fg1 cpu" "M/s/core" \
  "fg wall" "nf wall" "nf cpu" "wall x" "cpu x"
# "STATISTIC|FILTER": -s STATISTIC when there is one.
queries=("|src net 10.0.0.0/16 and dst port 22 and bytes > 100k" "|host 198.51.100.14 or host 2001:db8:2::2"
         "|proto udp and dst port 53 and packets > 3" "ip/bytes|proto tcp" "dstport/flows|any")
for archive in lz4 plain replay; do
  dir=$work/$archive
  read_flows=$("$fg" query --archive "$dir" --format json 'host 0.0.0.0' 2>&1 >/dev/null | tail -1 |
               python3 -c 'import sys,json; print(json.load(sys.stdin)["flows_read"])')
  for q in "${queries[@]}"; do
    spec=${q%%|*}; filter=${q#*|}; stat=(); label=$filter
    if [ -n "$spec" ]; then stat=(-s "$spec"); label="-s $spec '$filter'"; fi
    read -r _ fg1 < <(measure "$fg" query --threads 1 --archive "$dir" --format json "${stat[@]}" "$filter")
    read -r fgw _ < <(measure "$fg" query --archive "$dir" --format json "${stat[@]}" "$filter")
    read -r nfw nfc < <(measure nfdump -R "$dir" -q -o csv "${stat[@]}" "$filter")
    printf '%-7s %-52s %10s | %8s %9s | %8s | %8s %8s | %6s %6s\n' "$archive" "$label" "$read_flows" "$fg1" \
      "$(python3 -c "print(round($read_flows / $fg1 / 1e6, 1))")" "$fgw" "$nfw" "$nfc" \
      "$(python3 -c "print(round($nfw / $fgw, 2))")" "$(python3 -c "print(round($nfc / $fg1, 2))")"
  done
done
