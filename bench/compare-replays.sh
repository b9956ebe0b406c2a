#!/usr/bin/env bash
# bench/compare-collectors.sh on each real exporter's export in tests/fixtures, replayed by replay_send
# (sequence numbers moving on, 4 exporters): flowguard against nfcapd (sfcapd for sFlow) and FastNetMon.
#   bench/compare-replays.sh [--rate 20000] [--runs 3] [--duration 10] [--collectors "..."]
# Other arguments go to compare-collectors.sh. Prints each capture's table and ratios.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
c=$root/tests/fixtures/corpus
collectors="flowguard nfcapd fastnetmon"; args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --collectors) collectors=$2; shift ;;
    *) args+=("$1") ;;
  esac
  shift
done
for replay in "softflowd-ipfix=$c/beacon-softflowd-ipfix.pcap" "softflowd-v9=$c/beacon-softflowd-v9.pcap" \
              "softflowd-v5=$c/beacon-softflowd-v5.pcap" "pmacctd-v9=$c/beacon-pmacctd-v9.pcap" \
              "pmacctd-ipfix=$c/beacon-pmacctd-ipfix.pcap" "pmacctd-sflow=$c/pmacctd_sflow_mixed.pcap"; do
  use=$collectors
  case $replay in *sflow*) use=${use/nfcapd/sfcapd} ;; esac
  "$root/bench/compare-collectors.sh" --replay "$replay" --collectors "$use" "${args[@]}"
  echo
done
