#!/bin/bash
# Decode cost per record on every real exporter capture in tests/fixtures (bench/replay_bench; release build).
# Each capture's template and data files are decoded together, replayed with sequence numbers moving on.
#   bench/replay-fixtures.sh [--seconds 2]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${REPLAY_BENCH:-$root/build/release/bench/replay_bench}
f=$root/tests/fixtures
a=$f/akvorado/netflow
s=$f/akvorado/sflow
exec "$bin" "$@" \
  "softflowd 1.1.0 IPFIX=$f/corpus/beacon-softflowd-ipfix.pcap" \
  "softflowd 1.1.0 v9=$f/corpus/beacon-softflowd-v9.pcap" \
  "softflowd 1.1.0 v5=$f/corpus/beacon-softflowd-v5.pcap" \
  "pmacctd 1.7.7 v9=$f/corpus/beacon-pmacctd-v9.pcap" \
  "pmacctd 1.7.7 IPFIX=$f/corpus/beacon-pmacctd-ipfix.pcap" \
  "fprobe 1.1 v5=$f/corpus/beacon-fprobe-v5.pcap" \
  "pmacctd 1.7.7 sFlow=$f/corpus/pmacctd_sflow_mixed.pcap" \
  "Cisco ASR9k IPFIX (pmacct 100)=$f/pmacct/100-IPFIXv10-CISCO/traffic-00.pcap" \
  "Cisco v9 (pmacct 101)=$f/pmacct/101-NFv9-CISCO-cust_primitives/traffic-00.pcap" \
  "Cisco v9 sampling (pmacct 102)=$f/pmacct/102-NFv9-CISCO-f2rd-pretag-sampling-reload/traffic-00.pcap" \
  "Cisco IPFIX IPv6 sampling (pmacct 104)=$f/pmacct/104-IPFIXv10-IPv6-CISCO-sampling_option/traffic-00.pcap" \
  "Huawei IPFIX (pmacct 106)=$f/pmacct/106-IPFIXv10-HUAWEI-vrf_name/traffic-00.pcap" \
  "mixed v9/IPFIX sources (pmacct 111)=$f/pmacct/111-IPFIXv10-NFv9-IPv6-IPv4-mix_sources/traffic-00.pcap+$f/pmacct/111-IPFIXv10-NFv9-IPv6-IPv4-mix_sources/traffic-01.pcap" \
  "Cisco v9 (akvorado)=$a/template.pcap+$a/data.pcap" \
  "Juniper IPFIX (akvorado)=$a/juniper-cpid-template.pcap+$a/juniper-cpid-data.pcap" \
  "ipfixprobe (akvorado)=$a/ipfixprobe-templates.pcap+$a/ipfixprobe-data.pcap" \
  "Cisco sampling rate (akvorado)=$a/samplingrate-template.pcap+$a/samplingrate-data.pcap" \
  "SRv6 IPFIX (akvorado)=$a/ipfix-srv6-template.pcap+$a/ipfix-srv6-data.pcap" \
  "NetFlow v5 (akvorado)=$a/nfv5.pcap" \
  "sFlow 1140 samples (akvorado)=$s/data-1140.pcap" \
  "sFlow expanded (akvorado)=$s/data-sflow-expanded-sample.pcap"
