#!/usr/bin/env bash
# The sanitizer runs of CI (.ci/run calls this after README's commands), sized to keep CI under 25 minutes
# on 2 cores:
# - asan (AddressSanitizer + UBSan, Debug, not recoverable): every unit suite and the live-daemon tests that
#   drive the flowguard binary (pipeline_*, outputs_*, archive_*, cli_exit_codes, and the query tests that read
#   a running daemon's archive, DNS logs and bad arguments: query_vs_references runs ~30 queries over the
#   same code, 32 s under ASan, so only in the default build);
# - tsan (ThreadSanitizer): the suites with threads: core (doorbell), collector (receive threads) and pipeline
#   (channels, shards, the forwarder to the global stage, the live pipeline), and exporters' own threads (the
#   archive's writer thread, the query's parallel scan).
# Not here, to stay under 25 minutes (a run with them took 23.9): the fuzz corpus replays (they run in the
# default build, and the fuzzers themselves run under ASan+UBSan), the rest of exporters under tsan (those
# threads are Boost.Asio's, whose fences TSan cannot model), and the peer, golden, scenario and observability tests (real
# peers, long scenarios), which run in the default build.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS=0
jobs=$(nproc)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

asan_targets=(core_unit_tests collector_unit_tests analyzer_unit_tests pipeline_unit_tests app_unit_tests
              exporters_unit_tests flowguard)
# -g1: line tables for the sanitizers' stack traces, without the full debug info (~17 % less compile time).
cmake --preset asan -DCMAKE_CXX_FLAGS_DEBUG=-g1
cmake --build --preset asan -j"$jobs" --target "${asan_targets[@]}"
ctest --preset asan -j"$jobs" -R '_unit_tests$'
ctest --preset asan -R '^(pipeline_(restart_state_file|live_alerts|port_group)|outputs_.*|archive_.*|query_(live|names|errors)|cli_exit_codes)$'
echo "sanitizers: asan done after ${SECONDS} s"

tsan_targets=(core_unit_tests collector_unit_tests pipeline_unit_tests exporters_unit_tests)
cmake --preset tsan -DCMAKE_CXX_FLAGS_DEBUG=-g1
cmake --build --preset tsan -j"$jobs" --target "${tsan_targets[@]}"
ctest --preset tsan -j"$jobs" -R '^(core|collector|pipeline)_unit_tests$'
build/tsan/tests/exporters_unit_tests --test-case='*threads*,*unordered*,archive sink:*,event archive sink:*,clickhouse sink:*'
echo "sanitizers: tsan done after ${SECONDS} s"
