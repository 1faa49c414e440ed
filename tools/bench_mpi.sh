#!/usr/bin/env bash
# make bench, section mpi: data-parallel tokens/s and scaling efficiency on 1 and 2 ranks, and expert
# parallelism's dispatch traffic per token with and without device-limited routing, into out/bench_mpi.json
# and out/bench_mpi.png. On this 2-core machine the ranks share the cores (each rank runs 1 thread), so the
# scaling measures overheads on equal hardware, not a speed-up from more of it.
set -u
BIN=${1:-bin/archlab}
if ! command -v mpirun >/dev/null || ! nm "$BIN" 2>/dev/null | grep -q ' U MPI_Init'; then
    echo "bench mpi: SKIPPED (archlab built without MPI, or no mpirun)"; exit 0
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p out
rm -f out/bench_mpi.jsonl
run() { mpirun --oversubscribe -np "$1" "$BIN" --threads 1 --quiet tools/bench_mpi.lua "${@:2}" || exit 1; }
echo "MPI: data parallel (small preset, 16 x 128 tokens per step, 1 thread per rank)"
run 1 dp; run 2 dp
echo "MPI: expert parallel (16 routed experts top-4 + 1 shared, 4 ranks; M: ranks a token's experts may span)"
run 4 ep 0; run 4 ep 1; run 4 ep 2
"$BIN" --quiet tools/bench_mpi_report.lua out/bench_mpi.jsonl
