#!/usr/bin/env bash
# The ClickHouse sink's cost and ClickHouse's insert rate, against a throw-away clickhouse-server (Debian 12's
# 18.16) on 127.0.0.1, on the softflowd IPFIX replay (moving sequence numbers, 4 exporters):
#   live:  collecting at RATE datagrams/s (5,000: ~135k records/s) for 5 s with and without --clickhouse (3
#          alternating rounds; the exit code and dropped flows are printed: a rate the server cannot take shows): the
#          collector's user+sys CPU per record (/usr/bin/time), the server's CPU per row (/proc), rows stored,
#          and the bytes per row on disk (flows table and the roll-ups, system.parts).
#   drain: the server down while RECORDS records arrive (kept in memory and the spool), then started: rows per
#          second until every record is in the table (one sender, 50,000-row batches).
#   disk:  bytes per row of each table after OPTIMIZE FINAL, for the replay and for flowgen's random records.
#   bench/clickhouse-insert.sh [ROUNDS] [RECORDS] [RATE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fg=$root/build/release/app/flowguard; rs=$root/build/release/bench/replay_send
[ -x "$fg" ] && [ -x "$rs" ] || { echo "build the release preset first" >&2; exit 2; }
command -v clickhouse-server > /dev/null || { echo "clickhouse-server is not installed (deploy/setup.sh)" >&2; exit 2; }
. "$root/bench/udp_ports.sh"  # free_port, wait_listening
replay=$root/tests/fixtures/corpus/beacon-softflowd-ipfix.pcap
rounds=${1:-3}; drain_records=${2:-2000000}; rate=${3:-5000}
work=$(mktemp -d /tmp/clickhouse-insert.XXXXXX)
trap 'pkill -P $$ 2>/dev/null || true; sleep 1; rm -rf "$work"' EXIT
http=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tcp=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/ch"
cat > "$work/ch/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$work/ch/server.log</log><errorlog>$work/ch/server.err.log</errorlog></logger>
  <http_port>$http</http_port><tcp_port>$tcp</tcp_port><listen_host>127.0.0.1</listen_host>
  <path>$work/ch/data/</path><tmp_path>$work/ch/data/tmp/</tmp_path>
  <user_files_path>$work/ch/data/user_files/</user_files_path>
  <users_config>/etc/clickhouse-server/users.xml</users_config>
  <default_profile>default</default_profile><default_database>default</default_database>
  <timezone>UTC</timezone><mark_cache_size>268435456</mark_cache_size>
</yandex>
XML
ch_pid=""
start_server() {
  clickhouse-server --config-file="$work/ch/config.xml" > /dev/null 2>&1 & ch_pid=$!
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$http/ping" > /dev/null && return 0; sleep 0.1; done
  echo "clickhouse-server did not start" >&2; exit 1
}
stop_server() { kill -TERM "$ch_pid"; wait "$ch_pid" || true; }
sql() { curl -sf "http://127.0.0.1:$http/" --data-binary "$1"; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # user+sys clock ticks
hz=$(getconf CLK_TCK)

start_server
echo "ClickHouse $(sql 'SELECT version()'), flowguard $("$fg" --version 2>/dev/null || echo dev)"
printf '%-5s %-22s %9s %8s %14s %16s %10s %8s\n' round mode records cpu_s ns_per_record server_ns_per_row rows dropped
for round in $(seq "$rounds"); do
  for mode in collect "collect --clickhouse"; do
    port=$(free_port)
    sql "DROP DATABASE IF EXISTS bench" > /dev/null
    printf 'clickhouse: {url: "http://127.0.0.1:%s", database: bench}\n' "$http" > "$work/fg.yml"
    cmd=("$fg" --config "$work/fg.yml" collect --listen udp://127.0.0.1:$port --format none)
    [ "$mode" = collect ] && cmd=("$fg" collect --listen udp://127.0.0.1:$port --format none)
    /usr/bin/time -f "%U %S" -o "$work/time" "${cmd[@]}" > /dev/null 2> "$work/collect.log" & pid=$!
    wait_listening $port
    server_before=$(ticks "$ch_pid")
    records=$("$rs" --dest 127.0.0.1:$port --rate "$rate" --duration 5 --copies 4 "$replay" |
              python3 -c 'import sys,json; print(json.load(sys.stdin)["records"])')
    sleep 2; pkill -TERM -P $pid; wait $pid || true
    server_cpu=$(( $(ticks "$ch_pid") - server_before ))
    rows=0; [ "$mode" = collect ] || rows=$(sql "SELECT count() FROM bench.flows")
    dropped=$(grep -o '"flows_dropped":[0-9]*' "$work/collect.log" | cut -d: -f2 || true)
    cpu=$(tail -1 "$work/time" | awk '{print $1 + $2}')  # after "Command exited with non-zero status" if any
    printf '%-5s %-22s %9s %8s %14s %16s %10s %8s\n' "$round" "$mode" "$records" "$cpu" \
      "$(python3 -c "print(round($cpu * 1e9 / $records))")" \
      "$(python3 -c "print(round($server_cpu / $hz * 1e9 / $records) if $rows else '-')")" "$rows" "${dropped:--}"
  done
done
# Bytes per row on disk: the replay (the same capture looped: compresses better than real traffic) and
# flowgen's records (random addresses, ports and counters: worse than real traffic), after OPTIMIZE FINAL.
fgen=$root/build/release/bench/flowgen
port=$(free_port)
printf 'clickhouse: {url: "http://127.0.0.1:%s", database: varied}\n' "$http" > "$work/fg.yml"
"$fg" --config "$work/fg.yml" collect --listen udp://127.0.0.1:$port --format none > /dev/null 2>&1 & pid=$!
wait_listening $port
"$fgen" --dest 127.0.0.1:$port --version 10 --rate 20000 --duration 5 --exporters 16 > /dev/null
sleep 2; kill -TERM $pid; wait $pid || true
for db in bench varied; do sql "OPTIMIZE TABLE $db.flows FINAL" > /dev/null || true; done
echo "bytes on disk per row (bench: the replay, varied: flowgen's random records):"
sql "SELECT database, table, sum(rows) AS row_count, sum(bytes_on_disk) AS disk_bytes, round(sum(bytes_on_disk) / sum(rows), 1) AS per_row FROM system.parts WHERE active AND database IN ('bench', 'varied') GROUP BY database, table ORDER BY database, table FORMAT PrettyCompact" || echo "(system.parts query failed)"

# Drain: the backlog of an outage, inserted as fast as the sink and the server go.
stop_server
port=$(free_port)
sql_url="http://127.0.0.1:$http"
cat > "$work/fg.yml" <<YML
clickhouse:
  url: "$sql_url"
  database: drain
  max_buffered_flows: 4000000
  spool_dir: $work/spool
  max_spool_size: 4GiB
  retry_max: 1s
YML
"$fg" --config "$work/fg.yml" collect --listen udp://127.0.0.1:$port --format none > /dev/null 2> "$work/drain.log" & pid=$!
wait_listening $port
sent=0
while [ "$sent" -lt "$drain_records" ]; do
  n=$("$rs" --dest 127.0.0.1:$port --rate 20000 --duration 2 --copies 4 "$replay" |
      python3 -c 'import sys,json; print(json.load(sys.stdin)["records"])')
  sent=$((sent + n))
done
sleep 2
start_server
t0=$(date +%s.%N)
for _ in $(seq 1200); do
  got=$(sql "SELECT count() FROM drain.flows" 2> /dev/null || echo 0)
  [ "${got:-0}" -ge "$sent" ] && break
  sleep 0.1
done
t1=$(date +%s.%N)
kill -TERM $pid; wait $pid || true
python3 -c "s=$t1-$t0; print(f'drain: {$got} of {$sent} records inserted in {s:.2f} s after the server came up: {$got/s:,.0f} rows/s')"
stop_server
