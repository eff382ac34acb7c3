#!/usr/bin/env bash
# Times the headless twin built from REV against the working tree's, side by side: release builds, the runs of
# the README's batch and twin benchmarks alternating between the two binaries, N times each (default 5), and the
# median wall time of each. Run it on a quiet machine; the load average is printed with the figures.
# Usage: scripts/compare-speed.sh REV [N]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
rev=${1:?usage: scripts/compare-speed.sh REV [N]}
n=${2:-5}
out=$root/target/compare-speed
. scripts/compare-common.sh
base_worktree "$rev"
build() {
    clean_workspace_crates "$1" --release
    (cd "$1" && cargo build -q --release --no-default-features --bin twin --target-dir "$root/target")
    cp "$root/target/release/twin" "$2"
}
build "$out/base-src" "$out/twin-base"
build "$root" "$out/twin-head"

cases=(
    "pump station 24 h|run scenes/pump_station.ron --duration 24h -q"
    "pump station 30 d, no plant|run scenes/pump_station.ron --duration 30d --no-plant -q"
    "scenes/*.ron 24 h, --jobs 1|run scenes/pump_station.ron scenes/booster_station.ron --duration 24h -q --jobs 1"
    "scenes/*.ron 24 h, --jobs 2|run scenes/pump_station.ron scenes/booster_station.ron --duration 24h -q --jobs 2"
    "sweep_unbalance 24 h, --jobs 2|run tests/fixtures/sweep_unbalance.ron --duration 24h -q --jobs 2"
)
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
secs() {
    local t0 t1
    t0=$(date +%s.%N)
    # A failing expectation (exit 1) is part of some runs: the time is what is measured.
    "$@" >/dev/null 2>&1 || [ $? -eq 1 ]
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}'
}
printf '%-34s %10s %10s %7s\n' "what (median of $n, s wall)" "$rev" "now" "ratio"
for c in "${cases[@]}"; do
    label=${c%%|*}
    read -r -a args <<<"${c#*|}"
    : >"$out/base.t"
    : >"$out/head.t"
    for _ in $(seq "$n"); do
        secs "$out/twin-base" "${args[@]}" >>"$out/base.t"
        secs "$out/twin-head" "${args[@]}" >>"$out/head.t"
    done
    b=$(median <"$out/base.t")
    h=$(median <"$out/head.t")
    printf '%-34s %10.3f %10.3f %7.3f\n' "$label" "$b" "$h" "$(awk -v h="$h" -v b="$b" 'BEGIN {print h / b}')"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
