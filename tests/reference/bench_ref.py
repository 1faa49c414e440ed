"""Training throughput of the PyTorch reference (archref.py, float32, eager mode) with torch.optim.AdamW: the
number `make bench` puts beside archlab's on the same config and thread count.

    python3 tests/reference/bench_ref.py CONFIG.json --threads N [--torch-threads M] [--batch B] [--seq T] [--steps S]

CONFIG.json is an archlab config as JSON (what model:save stores as "archlab.config"; tools/bench.c writes
it). Run one process per thread count: Debian's torch does its matmuls through the system OpenBLAS, which
reads OPENBLAS_NUM_THREADS when it loads, so the caller sets OPENBLAS_NUM_THREADS and OMP_NUM_THREADS to N in
this process's environment, and torch.set_num_threads(N) bounds torch's own loops (M instead of N when given:
tools/bench.c also tries torch's loops on one thread with the BLAS on N, its best set-up for some configs). A step is forward, backward,
AdamW (betas 0.9/0.95, weight decay 0.1 on matrices) and zero_grad, as archlab's bench step; the result is the
median over S steps after 2 warm-up steps. Prints one line: "tokens_per_s X step_s Y threads N"."""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import archref  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--torch-threads", type=int, default=0)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    a = ap.parse_args()
    if os.environ.get("OPENBLAS_NUM_THREADS") != str(a.threads):
        print(f"bench_ref: warning: OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')} differs from "
              f"--threads {a.threads}", file=sys.stderr)
    torch.set_num_threads(a.torch_threads or a.threads)
    try:
        with open(a.config) as f:
            cfg = archref.Config(json.load(f))
    except (OSError, json.JSONDecodeError, archref.ConfigError) as e:
        print(f"bench_ref: {a.config}: {e}", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    model = archref.Model(cfg, torch.float32)
    model.init_random(seed=0)
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    g = torch.Generator().manual_seed(1)
    times = []
    for step in range(a.steps + 2):
        tok = torch.randint(0, cfg.V, (a.batch, a.seq + 1), generator=g)
        t0 = time.perf_counter()
        _, ce, aux = model.forward(tok[:, :-1], tok[:, 1:])
        (ce + aux).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step >= 2:
            times.append(time.perf_counter() - t0)
    dt = statistics.median(times)
    print(f"tokens_per_s {a.batch * a.seq / dt:.1f} step_s {dt:.4f} threads {a.threads}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
