#!/usr/bin/env bash
# Installs every Debian 12 package that flowguard's build, tests, benchmarks and integration peers need,
# then configures and builds the `default` preset. Idempotent: safe to run again after a pull.
# Usage: ./deploy/setup.sh [--no-build] [--preset NAME]   (as root, or through sudo)
set -euo pipefail

preset=default
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --preset) preset="$2"; shift ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

here=$(cd "$(dirname "$0")/.." && pwd)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# Build toolchain and libraries (Boost 1.81 for unordered_flat_map, JSON, Asio, Lockfree).
build_packages=(
  build-essential cmake ninja-build pkg-config git clang-format
  libboost1.81-dev libboost-json1.81-dev
  libfmt-dev libspdlog-dev libcli11-dev libyaml-cpp-dev libpcap-dev libssl-dev libcap-dev liblz4-dev zlib1g-dev
  prometheus-cpp-dev doctest-dev libbenchmark-dev publicsuffix
)
# Real peers used by the integration tests and benchmarks (exporters, decode oracles, replay).
peer_packages=(
  softflowd nfdump nfdump-sflow pmacct fastnetmon tshark tcpdump tcpreplay libfixbuf-tools
  python3 python3-scapy python3-jsonschema prometheus prometheus-alertmanager iproute2 curl openssl
  clickhouse-server  # 18.16: the ClickHouse sink's tests start it on 127.0.0.1 with a throw-away directory
  systemd  # systemd-analyze: the shipped unit is verified and its exposure scored
)

export DEBIAN_FRONTEND=noninteractive
# Packages such as nfdump and prometheus ship services; keep the installer from starting them here,
# so they never hold the ports the tests use.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
fi
echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${build_packages[@]}" "${peer_packages[@]}"

if [ "$build" -eq 1 ]; then
  cd "$here"
  cmake --preset "$preset"
  cmake --build --preset "$preset"
fi
