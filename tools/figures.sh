#!/usr/bin/env bash
# make figures: runs every paper ablation of experiments/ one after the other, then writes the report
# (experiments/report.lua: report.md and report.pdf) from what they measured.
#
#   tools/figures.sh [quick] [NAME ...]     NAME: run only these experiments (the report is always written)
#
# Default scale: out/figures/NAME/ (figures, results.json, log.txt), out/figures/report.md and report.pdf.
# Quick scale (`make figures QUICK=1`, what make test runs): the same under out/figures-quick/.
# Environment: FIGURES_OUT (output directory), AL_BIN (the archlab binary, default bin/archlab),
# FIGURES_THREADS (threads per experiment, default 1: the machine is shared), FORCE=1 (re-run experiments
# whose results are up to date).
#
# An experiment whose results.json (of the same scale) is newer than its script is not run again: an
# interrupted `make figures` resumes where it stopped. After changing the engine or the Lua library, FORCE=1.
# The quick scale (a smoke test) always runs everything. Every experiment runs even when one fails; the
# report says which are missing, and the exit status is 1 if any failed.
set -u
HERE=$(cd "$(dirname "$0")/.." && pwd)
scale=default
names=()
for a in "$@"; do
    if [ "$a" = quick ]; then scale=quick; else names+=("$a"); fi
done
ALL=(config_table mhc_stability mhc_ablations kv_tradeoff moe_balance moe_granularity mtp fp8 r1_zero r1_distill inside)
[ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")
if [ "$scale" = quick ]; then OUT=${FIGURES_OUT:-out/figures-quick}; else OUT=${FIGURES_OUT:-out/figures}; fi
BIN=${AL_BIN:-$HERE/bin/archlab}
THREADS=${FIGURES_THREADS:-1}
mkdir -p "$OUT"
qarg=()
[ "$scale" = quick ] && qarg=(quick)

failed=0
timings="$OUT/timings.tsv"
for name in "${names[@]}"; do
    script="$HERE/experiments/$name.lua"
    if [ ! -f "$script" ]; then
        echo "figures: no experiment '$name' (experiments/$name.lua); known: ${ALL[*]}" >&2
        failed=$((failed + 1)); continue
    fi
    dir="$OUT/$name"
    res="$dir/results.json"
    if [ "${FORCE:-0}" != 1 ] && [ "$scale" != quick ] && [ -f "$res" ] && [ "$res" -nt "$script" ] \
       && grep -q "\"scale_name\": \"$scale\"" "$res"; then
        echo "figures: $name: up to date ($res), not run again (FORCE=1 re-runs it)"
        continue
    fi
    mkdir -p "$dir"
    rm -f "$res"
    echo "figures: $name ($scale scale, $THREADS thread(s)) ..."
    t0=$(date +%s.%N)
    "$BIN" --threads "$THREADS" --quiet "$script" "${qarg[@]}" "out=$dir" > "$dir/log.txt" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    if [ $rc -ne 0 ] || [ ! -f "$res" ]; then
        echo "figures: $name FAILED (status $rc) after $secs s; last lines of $dir/log.txt:" >&2
        tail -n 15 "$dir/log.txt" >&2
        failed=$((failed + 1))
        printf '%s\t%s\t%s\tfailed\n' "$name" "$scale" "$secs" >> "$timings"
    else
        echo "figures: $name done in $secs s"
        printf '%s\t%s\t%s\tok\n' "$name" "$scale" "$secs" >> "$timings"
    fi
done

echo "figures: report ..."
if ! "$BIN" --quiet "$HERE/experiments/report.lua" "out=$OUT" > "$OUT/report_log.txt" 2>&1; then
    echo "figures: the report FAILED; $OUT/report_log.txt:" >&2
    tail -n 15 "$OUT/report_log.txt" >&2
    failed=$((failed + 1))
else
    tail -n 2 "$OUT/report_log.txt"
fi
if [ $failed -ne 0 ]; then
    echo "figures: $failed failure(s)" >&2
    exit 1
fi
echo "figures: all done: $OUT/report.md, $OUT/report.pdf"
