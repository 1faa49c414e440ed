"""Training throughput of the PyTorch reference (tests/reference/archref.py) on a GPU, eager or torch.compile,
float32 or bf16 autocast: the numbers tools/gpu_check.sh puts beside archlab's CUDA backend on the same config.

    python3 tools/gpu_bench_torch.py CONFIG.json --batch 8 --seq 1024 --steps 5 --precision fp32|bf16 \
        --mode eager|compile [--device cuda] [--check]

CONFIG.json is an archlab config as JSON (bin/gpu_check writes the bench's configs into its output folder). A step
is what archlab's bench step is: forward, backward, clipping to norm 1, AdamW (betas 0.9/0.95, weight decay 0.1 on
matrices), zero_grad. fp32 keeps TF32 off (archlab's default; PyTorch's too); bf16 runs the forward under
torch.autocast(bfloat16) with float32 weights, as archlab's bf16 runs its GEMMs with bf16 products and float32
accumulation. The result is the median step time over --steps steps after 2 warm-up steps (for compile, the first
call's time is reported apart as compile_s). Prints one line:
    tokens_per_s X step_s Y compile_s Z
--check parses the config and builds the model on the CPU without timing anything (the machine without a GPU runs
this to exercise the script). Exit status 2 for a bad config or a missing GPU."""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    ap.add_argument("--mode", choices=("eager", "compile"), default="eager")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    try:
        import torch
        import archref
    except ImportError as e:
        print(f"gpu_bench_torch: {e} (PyTorch is needed)", file=sys.stderr)
        return 2
    try:
        with open(a.config) as f:
            cfg = archref.Config(json.load(f))
    except (OSError, json.JSONDecodeError, archref.ConfigError) as e:
        print(f"gpu_bench_torch: {a.config}: {e}", file=sys.stderr)
        return 2
    if a.check:
        model = archref.Model(cfg, torch.float32)
        model.init_random(seed=0)
        n = sum(p.numel() for p in model.parameters())
        print(f"config ok: {n} parameters")
        return 0
    if a.device == "cuda" and not torch.cuda.is_available():
        print("gpu_bench_torch: no CUDA device visible to PyTorch", file=sys.stderr)
        return 2
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    model = archref.Model(cfg, torch.float32)
    model.init_random(seed=0)  # on the CPU (its generator), then moved
    model.p = {k: v.detach().to(a.device).requires_grad_(True) for k, v in model.p.items()}
    torch.set_default_device(a.device)  # what the forward creates (RoPE tables, masks) lands there too
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    fwd = torch.compile(model.forward) if a.mode == "compile" else model.forward
    g = torch.Generator(device="cpu").manual_seed(1)

    def step():
        tok = torch.randint(0, cfg.V, (a.batch, a.seq + 1), generator=g, device="cpu").to(a.device)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            _, ce, aux = fwd(tok[:, :-1], tok[:, 1:])
        (ce + aux).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    sync = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)
    t0 = time.perf_counter()
    step()  # the first call compiles
    sync()
    compile_s = time.perf_counter() - t0
    step()
    sync()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    dt = statistics.median(times)
    print(f"tokens_per_s {a.batch * a.seq / dt:.1f} step_s {dt:.4f} compile_s {compile_s:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
