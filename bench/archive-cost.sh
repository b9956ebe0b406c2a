#!/usr/bin/env bash
# CPU per record of collecting with and without the archive, beside nfcapd writing its files, on the same
# softflowd IPFIX replay (moving sequence numbers, 4 exporters, 20,000 datagrams/s for 5 s); 3 alternating
# rounds. User+sys CPU of the collector process from /usr/bin/time. Needs the release build.
#   bench/archive-cost.sh [ROUNDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fg=$root/build/release/app/flowguard; rs=$root/build/release/bench/replay_send
[ -x "$fg" ] && [ -x "$rs" ] || { echo "build the release preset first" >&2; exit 2; }
. "$root/bench/udp_ports.sh"  # free_port, wait_listening
replay=$root/tests/fixtures/corpus/beacon-softflowd-ipfix.pcap
work=$(mktemp -d /tmp/archive-cost.XXXXXX)
trap 'pkill -P $$ 2>/dev/null || true; rm -rf "$work"' EXIT
printf '%-5s %-26s %10s %8s %14s %12s\n' round collector records cpu_s ns_per_record bytes/flow
for round in $(seq "${1:-3}"); do
  for mode in "collect" "collect --archive" "nfcapd" "nfcapd -y"; do
    port=$(free_port); dir=$work/store; rm -rf "$dir"; mkdir -p "$dir"
    case $mode in
      "collect") cmd=("$fg" collect --listen udp://127.0.0.1:$port --format none) ;;
      "collect --archive") cmd=("$fg" collect --listen udp://127.0.0.1:$port --format none --archive "$dir") ;;
      nfcapd) cmd=(nfcapd -b 127.0.0.1 -p $port -w "$dir" -t 86400) ;;
      "nfcapd -y") cmd=(nfcapd -b 127.0.0.1 -p $port -w "$dir" -t 86400 -y) ;;
    esac
    /usr/bin/time -f "%U %S" -o "$work/time" "${cmd[@]}" > /dev/null 2>&1 & pid=$!
    wait_listening $port
    records=$("$rs" --dest 127.0.0.1:$port --rate 20000 --duration 5 --copies 4 "$replay" |
              python3 -c 'import sys,json; print(json.load(sys.stdin)["records"])')
    sleep 1; pkill -TERM -P $pid; wait $pid || true
    cpu=$(awk '{print $1 + $2}' "$work/time")
    stored=$(find "$dir" -type f -name 'nfcapd.*' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
    printf '%-5s %-26s %10s %8s %14s %12s\n' "$round" "$mode" "$records" "$cpu" \
      "$(python3 -c "print(round($cpu * 1e9 / $records))")" "$(python3 -c "print(round($stored / $records, 1))")"
  done
done
