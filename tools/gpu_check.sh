#!/usr/bin/env bash
# The CUDA backend checked on a GPU (README "GPU: the CUDA backend"). The GPU machine has nvcc, the driver and
# PyTorch but no Debian packages and no network: the binaries are built here and travel with the libraries they
# need.
#   tools/gpu_check.sh pack [DIR]      here: make cuda, then DIR (default .gpu, ignored by git) gets bin/archlab-cuda,
#                                      bin/gpu_check and the shared libraries ldd lists for them, except the C library
#                                      and the C++ runtime (every machine has them) and cuBLAS (the GPU machine's own
#                                      is used: too large to carry)
#   tools/gpu_check.sh run [DIR]       on the GPU machine, from the repository root, in one call of under 10 minutes:
#                                      bin/gpu_check (every kernel against the CPU's, a training step of each family,
#                                      200-step loss curves, archlab's bench), then PyTorch eager and torch.compile on
#                                      the bench's configs; results in $OUT (out/gpu_check when unset): summary.md,
#                                      gpu_check.log, kernels.tsv, steps.tsv, curves_check.tsv, curves.tsv, bench.tsv,
#                                      torch.tsv
#   tools/gpu_check.sh selftest [DIR]  here, without a GPU: pack, then the packed gpu_check, with only the packed
#                                      libraries (and this machine's cuBLAS), runs --cpu-only --quick; the PyTorch
#                                      script checks its configs when torch is installed
# The device call (the tool `run` of this workplace): command "tools/gpu_check.sh run", carry [".gpu"].
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
DIR=${2:-.gpu}

die() { echo "gpu_check.sh: $*" >&2; exit 2; }

# the directories holding libcublas.so.13 here or there: CUDA's own, then PyTorch's wheel (nvidia-cublas)
cublas_dirs() {
    local d out=""
    for d in "${CUDA_HOME:-/usr/local/cuda}/lib64" /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
             /usr/lib/x86_64-linux-gnu; do
        [ -e "$d/libcublas.so.13" ] && out="$out:$d"
    done
    d=$(python3 -c 'import nvidia.cublas, os; print(os.path.join(list(nvidia.cublas.__path__)[0], "lib"))' 2>/dev/null)
    [ -n "$d" ] && [ -e "$d/libcublas.so.13" ] && out="$out:$d"
    if [ -z "$out" ]; then
        d=$(find / -xdev -name libcublas.so.13 -print -quit 2>/dev/null)
        [ -n "$d" ] && out=":$(dirname "$d")"
    fi
    echo "${out#:}" | tr ':' '\n' | awk 'NF && !seen[$0]++' | paste -sd:
}

pack() {
    make -j"$(nproc)" cuda || die "make cuda failed"
    [ -x bin/archlab-cuda ] && [ -x bin/gpu_check ] || die "make cuda built nothing (no nvcc here?)"
    rm -rf "$DIR" && mkdir -p "$DIR/bin" "$DIR/lib" || die "cannot create $DIR"
    cp bin/archlab-cuda bin/gpu_check "$DIR/bin/"
    # every library the loader resolves, minus the C library family, the C++ runtime and CUDA's own
    ldd bin/archlab-cuda bin/gpu_check | awk '/=> \// {print $3}' | sort -u | while read -r lib; do
        case "$(basename "$lib")" in
            libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|ld-linux*|libstdc++.so*|libgcc_s.so*|libcublas*|libcudart*|libcuda.so*) ;;
            *) cp -L "$lib" "$DIR/lib/" ;;
        esac
    done
    grep -qx '/.gpu/' .gitignore 2>/dev/null || [ "$DIR" != .gpu ] || echo "note: add /.gpu/ to .gitignore" >&2
    echo "gpu_check.sh pack: $DIR holds $(ls "$DIR/lib" | wc -l) libraries, $(du -sh "$DIR" | cut -f1) in all"
}

run() {
    [ -x "$DIR/bin/gpu_check" ] || die "no $DIR/bin/gpu_check: run tools/gpu_check.sh pack on the build machine and carry $DIR"
    local out=${OUT:-out/gpu_check} work=/tmp/gpu_check_work start=$SECONDS budget=${GPU_CHECK_BUDGET:-560}
    mkdir -p "$out" "$work" || die "cannot create $out"
    local cb; cb=$(cublas_dirs)
    export LD_LIBRARY_PATH="$PWD/$DIR/lib${cb:+:$cb}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    local log="$out/gpu_check.log"
    {
        echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)   commit: $(git rev-parse --short HEAD 2>/dev/null || cat .git/HEAD 2>/dev/null || echo unknown)"
        echo "cuBLAS from: ${cb:-(not found)}"
        nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>&1 | head -2
        ldd "$DIR/bin/gpu_check" | grep -E 'not found|cublas' || true
    } >"$log"
    # 1. the checks and archlab's bench, a process each: a device fault in one part (it ends that process) does not
    #    cost the others their results
    local rc=0 part limit r
    for part in kernels:60 steps:60 curves:90 bench:150; do
        limit=${part#*:}
        part=${part%:*}
        timeout "$limit" "$DIR/bin/gpu_check" --only "$part" --out "$work" 2>&1 | tee -a "$log"
        r=${PIPESTATUS[0]}
        [ "$r" -ne 0 ] && rc=1
        echo "gpu_check --only $part: exit status $r ($((SECONDS - start)) s)" | tee -a "$log"
    done
    for f in kernels.tsv steps.tsv curves_check.tsv curves.tsv bench.tsv; do [ -f "$work/$f" ] && cp "$work/$f" "$out/"; done
    # 2. PyTorch on the same configs, eager then torch.compile, each bounded by what is left of the budget
    local torch_tsv="$out/torch.tsv"
    echo -e "engine\tmodel\tprecision\ttokens_per_s\tstep_s\tcompile_s\tnote" >"$torch_tsv"
    local model prec mode left line
    for mode in eager compile; do
        for model in dense variant; do
            for prec in bf16 fp32; do
                [ -f "$work/config_$model.json" ] || continue
                left=$((budget - (SECONDS - start) - 15))
                if [ "$left" -lt 30 ]; then
                    echo -e "torch-$mode\t$model\t$prec\t\t\t\tskipped: the call's 10 minutes are spent" >>"$torch_tsv"; continue
                fi
                [ "$left" -gt 150 ] && left=150
                line=$(timeout "$left" python3 tools/gpu_bench_torch.py "$work/config_$model.json" --batch 8 --seq 1024 \
                       --steps 5 --precision "$prec" --mode "$mode" 2>>"$log" | tail -1)
                if [[ "$line" == tokens_per_s* ]]; then
                    read -r _ tps _ sts _ cs <<<"$line"
                    echo -e "torch-$mode\t$model\t$prec\t$tps\t$sts\t$cs\t" >>"$torch_tsv"
                else
                    echo -e "torch-$mode\t$model\t$prec\t\t\t\tno result within ${left} s (see gpu_check.log)" >>"$torch_tsv"
                fi
                echo "torch-$mode $model $prec: ${line:-no result} ($((SECONDS - start)) s)" | tee -a "$log"
            done
        done
    done
    summary "$out" "$rc" >"$out/summary.md"
    cat "$out/summary.md"
    return "$rc"
}

# summary.md: the failed checks (or that there were none) and the bench table, archlab beside PyTorch
summary() {
    python3 - "$1" "$2" <<'EOF'
import csv, os, sys
out, rc = sys.argv[1], sys.argv[2]
def rows(name):
    p = os.path.join(out, name)
    return list(csv.DictReader(open(p), delimiter="\t")) if os.path.exists(p) else []
checks = rows("kernels.tsv") + rows("steps.tsv") + rows("curves_check.tsv")
failed = [r for r in checks if r["result"] != "ok"]
print(f"# gpu_check: {len(checks)} checks, {len(failed)} failed (gpu_check exit status {rc})\n")
for r in failed:
    print(f"- FAIL {r['part']} {r.get('kernel') or r.get('family')} {r.get('shape') or r.get('quantity')}: err {r['err']} > tol {r['tol']}")
bench = rows("bench.tsv")
torch = rows("torch.tsv")
tps = {(r["model"], r["precision"]): float(r["tokens_per_s"]) for r in bench if r["engine"].startswith("archlab")}
print("\n| model | precision | archlab CUDA tokens/s | PyTorch eager | torch.compile | archlab / eager | archlab / compile |")
print("|---|---|---|---|---|---|---|")
name = {"dense": "dense", "variant": "mhc+mla+moe"}
for m in ("dense", "variant"):
    for p in ("fp32", "bf16"):
        a = tps.get((name[m], p))
        e = next((r for r in torch if r["model"] == m and r["precision"] == p and r["engine"] == "torch-eager"), None)
        c = next((r for r in torch if r["model"] == m and r["precision"] == p and r["engine"] == "torch-compile"), None)
        def cell(r):
            return f"{float(r['tokens_per_s']):,.0f}" if r and r["tokens_per_s"] else (r["note"] if r else "-")
        def ratio(r):
            return f"{a / float(r['tokens_per_s']):.2f}" if a and r and r["tokens_per_s"] else "-"
        print(f"| {name[m]} | {p} | {a:,.0f} | {cell(e)} | {cell(c)} | {ratio(e)} | {ratio(c)} |" if a else
              f"| {name[m]} | {p} | - | {cell(e)} | {cell(c)} | - | - |")
for r in bench:
    if r["engine"] == "mhc_overhead_pct":
        print(f"\nmHC overhead over the residual at n = 4 ({r['precision']}): {float(r['tokens_per_s']):+.1f}% step time (paper: 6.7%)")
EOF
}

selftest() {
    pack || exit 2
    local cb; cb=$(cublas_dirs)
    [ -n "$cb" ] || die "no libcublas.so.13 found on this machine"
    echo "gpu_check.sh selftest: the packed gpu_check with only $DIR/lib and cuBLAS ($cb):"
    # the system's library directories are still searched after these: ldd names anything not packed that resolves there
    LD_LIBRARY_PATH="$PWD/$DIR/lib:$cb" ldd "$DIR/bin/gpu_check" | awk '/=> \// {print $3}' | grep -v "^$PWD/$DIR/lib/" |
        grep -vE '/(libc|libm|libdl|libpthread|librt|ld-linux|libstdc\+\+|libgcc_s|libcublas|libcublasLt)[.-]' &&
        die "the packed gpu_check still loads the libraries above from this machine"
    rm -rf /tmp/gpu_check_selftest
    for part in kernels bench; do # the bench writes the configs the PyTorch script reads
        LD_LIBRARY_PATH="$PWD/$DIR/lib:$cb" "$DIR/bin/gpu_check" --cpu-only --quick --only $part --out /tmp/gpu_check_selftest |
            tail -1 || exit 1
    done
    if python3 -c 'import torch' 2>/dev/null; then
        for f in /tmp/gpu_check_selftest/config_*.json; do [ -f "$f" ] && python3 tools/gpu_bench_torch.py "$f" --check; done
    else
        python3 -m py_compile tools/gpu_bench_torch.py && echo "gpu_bench_torch.py compiles (no torch here to run it)"
    fi
    summary /tmp/gpu_check_selftest 0 >/dev/null && echo "gpu_check.sh selftest: ok"
}

case "$mode" in
    pack) pack ;;
    run) run ;;
    selftest) selftest ;;
    *) echo "usage: tools/gpu_check.sh pack|run|selftest [DIR]" >&2; exit 2 ;;
esac
