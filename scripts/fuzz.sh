#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser of untrusted input (fuzz/targets.rs) with libFuzzer, on the stable
# toolchain: libfuzzer-sys builds libFuzzer from source (g++), and the coverage instrumentation is rustc's
# SanitizerCoverage pass, asked for with stable -C flags (what cargo-fuzz passes, without a sanitizer).
# Not run by CI. Usage:
#   scripts/fuzz.sh [RUNS] [TARGET...]     RUNS executions per target (default 10000000), all targets by default
#   JOBS=2 scripts/fuzz.sh                  targets in parallel (default: the number of cores)
#   SUMMARY_ONLY=1 scripts/fuzz.sh          only the table, from the logs of the last runs
# Each target starts from fuzz/corpus/<target> (committed seeds) and grows fuzz/out/<target>/corpus. libFuzzer
# stops at the first crash (a panic), hang (one input over 10 s) or out-of-memory (over 2 GB resident), writes the
# input to fuzz/out/<target>/ and the run is reported as such; "clean" means all RUNS executions passed. The table
# (target, executions, exec/s, seconds, peak RSS, corpus, result) is printed at the end and kept in
# fuzz/out/summary.md. Copy a finding into fuzz/corpus/<target>/ with its fix, so the test suite replays it
# (tests/it/fuzz_corpora.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-10000000}
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    TARGETS=(scenario csv_replay mqtt_ingest approval opcua_value jsonl_replay json_path sparkplug modbus)
fi
JOBS=${JOBS:-$(nproc)}
# libfuzzer-sys compiles libFuzzer (C++) with the system's compiler.
if ! command -v g++ > /dev/null; then
    sudo=$([ "$(id -u)" = 0 ] || echo sudo)
    $sudo apt-get update -q && $sudo apt-get install -y -q g++
fi
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')

export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares"
# --target keeps the instrumentation off build scripts and proc macros, which libFuzzer's runtime cannot link.
[ -n "${SUMMARY_ONLY:-}" ] || cargo build --release --manifest-path fuzz/Cargo.toml --target "$TRIPLE" --bins
BIN=fuzz/target/$TRIPLE/release

run_one() {
    local t=$1 out=fuzz/out/$1
    rm -rf "$out" && mkdir -p "$out/corpus"
    "$BIN/$t" "$out/corpus" "fuzz/corpus/$t" -runs="$RUNS" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$out/" > "$out/log.txt" 2>&1
    echo $? > "$out/rc"
}
export -f run_one
export BIN RUNS

# The slowest targets first, so the two cores stay busy to the end.
[ -n "${SUMMARY_ONLY:-}" ] || printf '%s\n' "${TARGETS[@]}" | nice xargs -P "$JOBS" -I{} bash -c 'run_one {}'

summary=fuzz/out/summary.md
{
    echo "| target | executions | exec/s | seconds | peak RSS, MB | corpus | result |"
    echo "|---|---:|---:|---:|---:|---:|---|"
    for t in "${TARGETS[@]}"; do
        out=fuzz/out/$t
        stat() { sed -n "s/^stat::$1: *//p" "$out/log.txt" | tail -1; }
        result=clean
        if [ ! -f "$out/rc" ]; then
            result="still running"
        elif grep -aq 'run interrupted' "$out/log.txt"; then
            result="stopped by hand"
        elif [ "$(cat "$out/rc")" != 0 ]; then
            result="$(grep -ao 'deadly signal\|timeout\|out-of-memory' "$out/log.txt" | head -1): $(ls "$out" | grep -E '^(crash|timeout|oom)-' | head -1)"
        fi
        execs=$(stat number_of_executed_units)
        rate=$(stat average_exec_per_sec)
        secs=$(grep -ao 'Done [0-9]* runs in [0-9]* second' "$out/log.txt" | awk '{print $5}' || true)
        [ -n "$secs" ] || secs=$(( ${execs:-0} / (${rate:-0} > 0 ? ${rate:-1} : 1) ))
        echo "| $t | $execs | $rate | $secs | $(stat peak_rss_mb) | $(ls "$out/corpus" | wc -l) | $result |"
    done
} > "$summary"
cat "$summary"
