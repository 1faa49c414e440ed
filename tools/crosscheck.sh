#!/usr/bin/env bash
# `make crosscheck`: archlab against the independent PyTorch reference in tests/reference/.
#   1. bin/archlab tests/reference/crosscheck.lua writes, for each config of the grid, the perturbed weights and
#      one batch's logits, loss and gradients (model:save, model:dump_grads) to build/crosscheck/;
#   2. tests/reference/crosscheck.py recomputes them in float64 with PyTorch and prints the table.
# Exit status: 0 all PASS (or SKIPPED when python3-torch is not installed: said loudly), 1 any FAIL or error.
# CROSSCHECK_FILTER=substring limits the grid (e.g. CROSSCHECK_FILTER=mhc-mla).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
PY=${PYTHON:-/usr/bin/python3}
DIR=build/crosscheck
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree

if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
    echo "############################################################################"
    echo "#  SKIPPED: python3-torch not installed (apt-get install python3-torch);    #"
    echo "#  archlab was NOT cross-checked against the PyTorch reference.             #"
    echo "############################################################################"
    exit 0
fi

rm -rf "$DIR"
mkdir -p "$DIR"
if ! "$BIN/archlab" --quiet --threads 1 tests/reference/crosscheck.lua "$DIR" ${CROSSCHECK_FILTER:+"$CROSSCHECK_FILTER"}; then
    echo "crosscheck: FAIL: archlab could not write the dumps"
    exit 1
fi
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$PY" tests/reference/crosscheck.py "$DIR"
rc=$?
if [ $rc -ne 0 ]; then echo "crosscheck: FAIL (exit status $rc)"; exit 1; fi
echo "crosscheck: PASS"
