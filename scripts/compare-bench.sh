#!/usr/bin/env bash
# Runs one of the project's cargo benchmarks built from REV and from the working tree side by side: both bench
# executables are built first (release, the bench profile), then run alternately N times each (default 3), each run
# in its own source tree, with their output kept in target/compare-bench/. Run it on a quiet machine; the load
# average is printed before each run.
# Usage: scripts/compare-bench.sh REV BENCH [N] [-- CARGO_FLAGS...]
#   e.g. scripts/compare-bench.sh fb28ba1 telemetry 3 -- --no-default-features
#        TWIN_GUI_BENCH_WINDOWLESS_ONLY=1 scripts/compare-bench.sh fb28ba1 gui 3
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
rev=${1:?usage: scripts/compare-bench.sh REV BENCH [N] [-- CARGO_FLAGS...]}
bench=${2:?usage: scripts/compare-bench.sh REV BENCH [N] [-- CARGO_FLAGS...]}
n=${3:-3}
shift $(($# < 3 ? $# : 3))
[ "${1:-}" = "--" ] && shift
flags=("$@")
out=$root/target/compare-bench
. scripts/compare-common.sh
base_worktree "$rev"

# The bench executable of the tree in $1, copied to $2.
build() {
    clean_workspace_crates "$1" --release
    local exe
    exe=$(cd "$1" && cargo bench --no-run --bench "$bench" "${flags[@]}" --target-dir "$root/target" \
        --message-format=json 2>/dev/null |
        python3 -c 'import sys, json
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and "bench" in m["target"]["kind"]:
        print(m["executable"])' | tail -n 1)
    [ -n "$exe" ] || { echo "no bench executable built in $1" >&2; exit 1; }
    cp "$exe" "$2"
}
build "$out/base-src" "$out/bench-base"
build "$root" "$out/bench-head"

for i in $(seq 1 "$n"); do
    for side in base head; do
        src=$root
        [ "$side" = base ] && src=$out/base-src
        echo "== $side run $i, load average $(cut -d' ' -f1-3 /proc/loadavg)"
        (cd "$src" && "$out/bench-$side" --bench) 2>&1 | tee "$out/$bench-$side-$i.txt"
    done
done
