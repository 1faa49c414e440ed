#!/usr/bin/env bash
# Runs every test binary in BINDIR (default bin/) and prints one closing line "N passed, N failed".
# The CLI tests find the archlab binary under test through AL_BIN, the layering test the objects it was
# linked from through AL_OBJDIR (OBJDIR, default build/f32).
set -u
BINDIR=${1:-bin}
export AL_BIN="$BINDIR/archlab"
export AL_OBJDIR="${2:-build/f32}"
total_p=0; total_f=0; status=0
for t in test_archlab gradcheck; do
    log=$(mktemp)
    "$BINDIR/$t" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    rm -f "$log"
    if [ -z "$line" ]; then
        echo "tests: $t exited with status $rc before reporting (crash?)"; total_f=$((total_f + 1)); status=1; continue
    fi
    p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
    total_p=$((total_p + p)); total_f=$((total_f + f))
    [ "$rc" = 0 ] || status=1
done
echo "$total_p passed, $total_f failed"
exit $status
