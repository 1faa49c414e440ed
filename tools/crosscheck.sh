#!/usr/bin/env bash
# `make crosscheck`: archlab against the independent PyTorch reference in tests/reference/.
#   1. bin/archlab tests/reference/crosscheck.lua writes, for each config of the grid, the perturbed weights and
#      one batch's logits, loss and gradients (model:save, model:dump_grads) to build/crosscheck/f32/;
#   2. tests/reference/crosscheck.py recomputes them in float64 with PyTorch and prints the table;
#   3. the same with bin/archlab64 (archlab compiled with real = double) in build/crosscheck/f64/, at tight
#      tolerances: what float32 rounding hides, this shows;
#   4. archlab.tensor's .npy and .safetensors files against a parser of both formats written in Python.
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

status=0
# bin/archlab (float32, what users run) against float32 tolerances, then bin/archlab64 (the same code in
# double precision) against tolerances only an exact match meets
for prec in f32 f64; do
    exe="$BIN/archlab"; [ $prec = f64 ] && exe="$BIN/archlab64"
    d="$DIR/$prec"
    rm -rf "$d"
    mkdir -p "$d"
    echo
    echo "== $exe ($prec)"
    if ! "$exe" --quiet --threads 1 tests/reference/crosscheck.lua "$d" ${CROSSCHECK_FILTER:+"$CROSSCHECK_FILTER"}; then
        echo "crosscheck: FAIL: $exe could not write the dumps"
        status=1
        continue
    fi
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$PY" tests/reference/crosscheck.py "$d" --precision $prec || status=1
done
# archlab.tensor's .npy and .safetensors files, read by a parser of the formats written in Python (no NumPy)
echo
echo "== tensor files (archlab.tensor .npy / .safetensors, read by tests/reference/check_tensor_files.py)"
rm -rf "$DIR/tensors" && mkdir -p "$DIR/tensors"
if "$BIN/archlab" --quiet tests/reference/tensor_files.lua "$DIR/tensors"; then
    "$PY" tests/reference/check_tensor_files.py "$DIR/tensors" || status=1
else
    echo "crosscheck: FAIL: archlab could not write the tensor files"
    status=1
fi
echo
if [ $status -ne 0 ]; then echo "crosscheck: FAIL"; exit 1; fi
echo "crosscheck: PASS (float32 and float64 builds)"
