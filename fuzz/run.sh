#!/usr/bin/env bash
# Runs every libFuzzer target (or those named) for RUNS executions each, from its seed corpus, and prints one
# line per target: executions, seconds, coverage (edges), features, corpus size, findings.
#   cmake --preset fuzz && cmake --build --preset fuzz -j"$(nproc)"
#   fuzz/run.sh [-n RUNS] [-j JOBS] [-m MAX_LEN] [-t SECONDS] [-T TIMEOUT] [TARGET...]
#   (defaults: 10000000 runs, all targets, 1 job, libFuzzer's max_len, no time limit; -t stops a target after
#   SECONDS, its executions reported; a later run goes on from the corpus it grew; -T: seconds one input may
#   take, 10 by default - libFuzzer measures wall time, so raise it when the targets share busy cores)
# New inputs go to build/fuzz/corpora/<target> (merge the interesting ones into fuzz/corpora/<target> with
# -merge=1); crashers to build/fuzz/artifacts/<target>/ - keep each as a regression input in fuzz/corpora.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=10000000
jobs=1
export FUZZ_EXTRA=""
timeout=10
while getopts "n:j:m:t:T:" opt; do
    case $opt in
        n) runs=$OPTARG ;;
        j) jobs=$OPTARG ;;
        m) FUZZ_EXTRA="$FUZZ_EXTRA -max_len=$OPTARG" ;;
        t) FUZZ_EXTRA="$FUZZ_EXTRA -max_total_time=$OPTARG" ;;
        T) timeout=$OPTARG ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
FUZZ_EXTRA="$FUZZ_EXTRA -timeout=$timeout"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in fuzz/*_fuzzer.cpp; do targets+=("$(basename "$f" _fuzzer.cpp)"); done
fi
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# ASAN_OPTIONS from the environment win (malloc_context_size=0 speeds allocation-heavy targets ~20%).
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}

fuzz_one() {
    local name=$1 runs=$2
    local bin=build/fuzz/fuzz/${name}_fuzzer work=build/fuzz/corpora/$name artifacts=build/fuzz/artifacts/$name/
    mkdir -p "$work" "$artifacts"
    local log=build/fuzz/$name.log start end rc=0
    start=$(date +%s)
    # shellcheck disable=SC2086
    "$bin" -runs="$runs" $FUZZ_EXTRA -print_final_stats=1 -artifact_prefix="$artifacts" -rss_limit_mb=2048 \
        "$work" "fuzz/corpora/$name" >"$log" 2>&1 || rc=$?
    end=$(date +%s)
    local execs cov ft corpus findings
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    corpus=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    findings=$(find "$artifacts" -type f | wc -l)
    printf '%-16s rc=%d executions=%s seconds=%d cov=%s ft=%s corpus=%s findings=%s\n' "$name" "$rc" "${execs:-?}" \
        $((end - start)) "${cov:-?}" "${ft:-?}" "${corpus:-?}" "$findings"
}
export -f fuzz_one
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c "fuzz_one {} $runs"
