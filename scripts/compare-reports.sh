#!/usr/bin/env bash
# Runs the bundled scenarios and the test fixtures headless with the twin built from REV and with the working
# tree's, and compares every report and recording byte for byte, and every JUnit file by what a CI server reads in
# it (each suite's and case's name, the counts, each failure's and error's message: the XML writer's attribute
# order and defaults may differ). A refactoring must leave them all identical. The same inputs (the working tree's
# scenes/ and tests/fixtures/) feed both builds.
# Usage: scripts/compare-reports.sh REV      (e.g. the commit before a change: scripts/compare-reports.sh HEAD~3)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
rev=${1:?usage: scripts/compare-reports.sh REV}
out=$root/target/compare-reports
rm -rf "$out"
. scripts/compare-common.sh
base_worktree "$rev"

# Both builds share this tree's target directory (the dependencies are built once; each tree's own crates are
# rebuilt, see compare-common.sh). The headless build: the reports do not depend on the GUI.
build() {
    clean_workspace_crates "$1"
    (cd "$1" && cargo build -q --no-default-features --bin twin --target-dir "$root/target")
    cp "$root/target/debug/twin" "$2"
}
build "$out/base-src" "$out/twin-base"
build "$root" "$out/twin-head"

runs() {
    local twin=$1 dir=$2
    mkdir -p "$dir"
    for s in scenes/*.ron tests/fixtures/expect/station.ron tests/fixtures/failing_expectation.ron \
        tests/fixtures/stream.ron tests/fixtures/valid_small.ron; do
        name=$(echo "$s" | tr '/' '_')
        # A failing expectation exits 1: the report is what is compared.
        "$twin" run "$s" --duration 24h --seed 1 --report "$dir/$name.json" --junit "$dir/$name.xml" -q || [ $? -eq 1 ]
    done
    "$twin" run tests/fixtures/sweep_unbalance.ron --duration 6h --report "$dir/sweep" --junit "$dir/sweep.xml" -q \
        || [ $? -eq 1 ]
    rm -f "$dir/sweep/summary.json" # wall-clock times
    "$twin" run scenes/pump_station.ron --duration 2h --seed 3 --record "$dir/plant.jsonl" --report "$dir/plant.json" -q
    "$twin" run scenes/pump_station.ron --replay "$dir/plant.jsonl" --duration 2h --report "$dir/plant-replay.json" -q
    "$twin" run scenes/pump_station.ron --replay tests/fixtures/replay/site_log.csv --duration 1h \
        --report "$dir/csv.json" --record "$dir/csv.jsonl" -q
    "$twin" run scenes/pump_station.ron --duration 12h --no-plant --report "$dir/no-plant.json" -q
}
runs "$out/twin-base" "$out/base"
runs "$out/twin-head" "$out/head"

# A JUnit file's content, one line per suite and case, in document order.
junit_content() {
    python3 - "$1" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
n = lambda e, a: e.get(a, "0")
print("testsuites", root.get("name"), n(root, "tests"), n(root, "failures"), n(root, "errors"))
for s in root.iter("testsuite"):
    print("testsuite", s.get("name"), n(s, "tests"), n(s, "failures"), n(s, "errors"))
    for c in s.iter("testcase"):
        bad = [(b.tag, b.get("message")) for b in c if b.tag in ("failure", "error")]
        print("  testcase", c.get("classname"), c.get("name"), bad)
PY
}
for f in $(cd "$out/base" && find . -name '*.xml'); do
    junit_content "$out/base/$f" >"$out/base/$f.content"
    junit_content "$out/head/$f" >"$out/head/$f.content"
done

n=$(find "$out/base" -type f ! -name '*.xml' | wc -l)
if diff -r -x '*.xml' "$out/base" "$out/head" >"$out/diff.txt"; then
    echo "identical: $n files (reports, recordings, the content of the JUnit files) of $rev and the working tree"
else
    echo "DIFFERENT: see $out/diff.txt" >&2
    head -n 40 "$out/diff.txt" >&2
    exit 1
fi
