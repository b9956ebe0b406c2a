#!/usr/bin/env bash
# Bytes per stored flow: the same replayed export (a real exporter's capture, bench/replay_send) written by
# `flowguard collect` in each output format and into its archive (LZ4, uncompressed), and by nfcapd into its
# files (uncompressed, LZO, LZ4, BZ2).
# Records are counted from what each wrote (lines; nfdump -I's Flows), so a loss does not skew the ratio.
#
# A replay repeats one capture's few hundred flows, which compresses far better than real traffic: for
# compressed sizes, --pcap meters a packet capture (bench/pcapgen's: every flow different) with `flowguard
# meter` in each format and with nfpcapd into nfcapd files, with the same timeouts.
#
#   bench/storage-bytes.sh [--replay NAME=FILE[+FILE...]] [--datagrams 20000] [--exporters 4] [--pcap FILE]
# Default replay: softflowd 1.1.0's IPFIX export (tests/fixtures/corpus/beacon-softflowd-ipfix.pcap).
# Needs the release build and the packages of deploy/setup.sh; traffic goes to 127.0.0.0/8 only.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
replay="softflowd-ipfix=$root/tests/fixtures/corpus/beacon-softflowd-ipfix.pcap"; datagrams=20000; exporters=4; pcap=""
while [ $# -gt 0 ]; do
  case "$1" in
    --replay) replay=$2; shift ;;
    --datagrams) datagrams=$2; shift ;;
    --exporters) exporters=$2; shift ;;
    --pcap) pcap=$2; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
flowguard=${FLOWGUARD:-$root/build/release/app/flowguard}
replay_send=$root/build/release/bench/replay_send
[ -x "$flowguard" ] && [ -x "$replay_send" ] || { echo "build the release preset first" >&2; exit 2; }
work=$(mktemp -d /tmp/storage-bytes.XXXXXX)
trap 'pkill -P $$ 2>/dev/null || true; rm -rf "$work"' EXIT
. "$root/bench/udp_ports.sh"  # free_port, wait_listening
# 5,000 datagrams/s: slow enough that no collector loses any.
send() { "$replay_send" --dest 127.0.0.1:$1 --rate 5000 --duration "$(python3 -c "print($datagrams / 5000)")" \
           --copies "$exporters" "${replay#*=}" | python3 -c 'import sys,json; print(json.load(sys.stdin)["records"])'; }

printf '# %s: %s datagrams from %s exporters\n' "${replay%%=*}" "$datagrams" "$exporters"
printf '%-28s %10s %12s %10s\n' store flows bytes bytes/flow
row() { printf '%-28s %10s %12s %10s\n' "$1" "$2" "$3" "$(python3 -c "print(round($3 / max($2, 1), 1))")"; }

for format in json csv; do
  port=$(free_port); out=$work/flows.$format
  "$flowguard" collect --listen udp://127.0.0.1:$port --format $format --output "$out" 2> "$work/err" & pid=$!
  wait_listening $port; sent=$(send $port); sleep 1; kill -INT $pid; wait $pid || true
  lines=$(grep -c . "$out"); [ "$format" = csv ] && lines=$((lines - 1))  # the header line
  row "flowguard $format" "$lines" "$(stat -c %s "$out")"
  gzip -6 -k "$out"; row "flowguard $format, gzip -6" "$lines" "$(stat -c %s "$out.gz")"
  zstd -q -3 "$out" -o "$out.zst" 2>/dev/null && row "flowguard $format, zstd -3" "$lines" "$(stat -c %s "$out.zst")"
done
for compression in lz4 none; do  # flowguard's archive: nfcapd files (docs/STORAGE.md)
  port=$(free_port); dir=$work/archive-$compression; mkdir -p "$dir"
  printf 'archive:\n  compression: %s\n' $compression > "$work/archive.yml"
  "$flowguard" -c "$work/archive.yml" collect --listen udp://127.0.0.1:$port --format none --archive "$dir" 2> "$work/err" & pid=$!
  wait_listening $port; send $port > /dev/null; sleep 1; kill -INT $pid; wait $pid || true
  flows=$(nfdump -R "$dir" -I | awk '/^Flows:/ {print $2}')
  row "flowguard archive ($compression)" "$flows" "$(du -cb "$dir"/nfcapd.* | tail -1 | cut -f1)"
done
for option in "" -z -y -j; do
  port=$(free_port); dir=$work/nfcapd$option; mkdir -p "$dir"
  nfcapd -b 127.0.0.1 -p $port -w "$dir" -t 86400 $option > /dev/null 2>&1 & pid=$!
  wait_listening $port; send $port > /dev/null; sleep 1; kill -TERM $pid; wait $pid || true
  flows=$(nfdump -R "$dir" -I | awk '/^Flows:/ {print $2}')
  label="nfcapd${option:+ $option}"; case $option in -z) label="nfcapd -z (LZO)" ;; -y) label="nfcapd -y (LZ4)" ;; -j) label="nfcapd -j (BZ2)" ;; esac
  row "$label" "$flows" "$(du -cb "$dir"/nfcapd.* | tail -1 | cut -f1)"
done
echo "# sent: $sent records per run"

[ -n "$pcap" ] || exit 0
echo
printf '# %s metered (60 s active, 15 s idle timeouts)\n' "$pcap"
printf '%-28s %10s %12s %10s\n' store flows bytes bytes/flow
for format in json csv; do
  out=$work/meter.$format
  "$flowguard" meter --format $format --active-timeout 60s --idle-timeout 15s --no-dns "$pcap" > "$out" 2> /dev/null
  lines=$(grep -c . "$out"); [ "$format" = csv ] && lines=$((lines - 1))
  row "flowguard meter $format" "$lines" "$(stat -c %s "$out")"
  gzip -6 -k "$out"; row "flowguard meter $format, gzip -6" "$lines" "$(stat -c %s "$out.gz")"
  zstd -q -3 "$out" -o "$out.zst" 2>/dev/null && row "flowguard meter $format, zstd" "$lines" "$(stat -c %s "$out.zst")"
  rm -f "$out" "$out.gz" "$out.zst"
done
# The archive on metered flows: `meter --export` sends the capture's flows as IPFIX to `collect --archive`.
port=$(free_port); dir=$work/archive-meter; mkdir -p "$dir"
"$flowguard" collect --listen udp://127.0.0.1:$port --format none --archive "$dir" 2> "$work/err" & pid=$!
wait_listening $port
"$flowguard" meter --format none --active-timeout 60s --idle-timeout 15s --no-dns --export udp://127.0.0.1:$port "$pcap" 2> /dev/null
sleep 2; kill -INT $pid; wait $pid || true
flows=$(nfdump -R "$dir" -I | awk '/^Flows:/ {print $2}')
row "flowguard meter -> archive (lz4)" "$flows" "$(du -cb "$dir"/nfcapd.* | tail -1 | cut -f1)"
for option in "" -z -y; do  # -j (BZ2) left out: nfpcapd 1.7.1 did not finish it here
  dir=$work/nfpcapd$option; mkdir -p "$dir"
  nfpcapd -r "$pcap" -w "$dir" -e 60,15 $option > /dev/null 2>&1
  flows=$(nfdump -R "$dir" -I | awk '/^Flows:/ {print $2}')
  label="nfpcapd${option:+ $option}"; case $option in -z) label="nfpcapd -z (LZO)" ;; -y) label="nfpcapd -y (LZ4)" ;; -j) label="nfpcapd -j (BZ2)" ;; esac
  row "$label" "$flows" "$(du -cb $(find "$dir" -type f -name 'nfcapd.*') | tail -1 | cut -f1)"
done
