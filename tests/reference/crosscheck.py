"""The PyTorch half of `make crosscheck`: for every config in DIR/manifest.txt, loads archlab's weights
(NAME.weights.safetensors, written by model:save) and its dump (NAME.dump.safetensors: tokens, targets, logits,
loss, grad.<name>, written by model:dump_grads), recomputes logits, loss and every parameter's gradient with
the independent reference (archref.py) in float64, and compares.

Error measure, per tensor: max |archlab - reference| (abs) and that divided by max |reference| (rel, a
normwise relative error that small entries cannot blow up). For the gradients the table shows the worst
abs and the worst rel over all parameter tensors, and the tensor with the worst rel. A gradient tensor's
scale is max(max |its reference gradient|, 1e-3 x the largest reference gradient in the model): some
gradients are zero in exact arithmetic and only rounding noise in float32 (layer 0's streams are identical
copies of the embedding, so H_res there acts on equal rows and its Sinkhorn logits get no gradient; the
sub-layer's pre-norm makes F blind to the scale of H_pre x; the V3 correction bias is not differentiated),
and a relative error of noise is meaningless.

Tolerances, by the precision of the archlab build that wrote the dump (--precision):
    f32 (bin/archlab, what users run):   logits 1e-4, loss 1e-5, each gradient tensor 5e-4
        (float32 rounding; the worst measured, 9e-5, are gradients of layer-0 HC gates, sums with cancellation)
    f64 (bin/archlab64, the same C code with real = double): logits 1e-6, loss 1e-10, each gradient 1e-6
        (the dump stores logits and gradients as float32, so ~6e-8 is the floor; any bug shows far above it)
Exit status 1 if any config fails (a missing or mismatched file counts as a failure).

Usage: python3 tests/reference/crosscheck.py DIR [--precision f32|f64] [--perturb-grad NAME]
(--perturb-grad tests this test: it adds 1e-3 x max|g| to one element of archlab's gradient NAME before
comparing, which must fail.)"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import archref  # noqa: E402
import st_io  # noqa: E402

TOLERANCES = {"f32": {"logits": 1e-4, "loss": 1e-5, "grads": 5e-4},
              "f64": {"logits": 1e-6, "loss": 1e-10, "grads": 1e-6}}
TOL = TOLERANCES["f32"]


def errors(a, r):
    a, r = a.to(torch.float64), r.to(torch.float64)
    ab = (a - r).abs().max().item() if r.numel() else 0.0
    scale = r.abs().max().item() if r.numel() else 0.0
    return ab, (ab / scale if scale > 0 else (0.0 if ab == 0 else float("inf")))


def check(dirname, name, perturb=None):
    wpath = os.path.join(dirname, name + ".weights.safetensors")
    dpath = os.path.join(dirname, name + ".dump.safetensors")
    wt, wmeta = st_io.read(wpath)
    dt, dmeta = st_io.read(dpath)
    if "archlab.config" not in wmeta:
        raise archref.ConfigError(f"{wpath}: no 'archlab.config' metadata (not an archlab weights file?)")
    if wmeta.get("archlab.config") != dmeta.get("archlab.config"):
        raise archref.ConfigError(f"{dpath} was dumped from a different config than {wpath}")
    cfg = archref.Config(json.loads(wmeta["archlab.config"]))
    model = archref.Model(cfg, torch.float64)
    model.load(wt, wpath)
    tokens, targets = dt["tokens"].long(), dt["targets"].long()
    logits, ce, aux = model.forward(tokens, targets)
    loss = ce + aux
    loss.backward()
    res = {"logits": errors(dt["logits"], logits.detach()),
           "loss": errors(dt["loss"], loss.detach().reshape(1))}
    grads = {k: (prm.grad if prm.grad is not None else torch.zeros_like(prm)) for k, prm in model.p.items()}
    floor = 1e-3 * max(g.abs().max().item() for g in grads.values())
    worst = (0.0, 0.0, "")
    worst_abs = 0.0
    for k, g_ref in grads.items():
        key = "grad." + k
        if key not in dt:
            raise archref.ConfigError(f"{dpath}: no gradient '{key}'")
        g = dt[key].to(torch.float64)
        if tuple(g.shape) != tuple(g_ref.shape):
            raise archref.ConfigError(f"{dpath}: gradient '{key}' has shape {tuple(g.shape)}, expected {tuple(g_ref.shape)}")
        if perturb == k:
            g = g.clone()
            g.view(-1)[0] += 1e-3 * g_ref.abs().max().item()
        ab = (g - g_ref).abs().max().item()
        rel = ab / max(g_ref.abs().max().item(), floor, 1e-300)
        worst_abs = max(worst_abs, ab)
        if rel > worst[1] or not worst[2]:
            worst = (ab, rel, k)
    res["grads"] = (worst_abs, worst[1])
    ok = all(res[q][1] <= TOL[q] for q in TOL)
    return res, ok, worst[2], len(model.p)


def main():
    global TOL
    args = sys.argv[1:]
    perturb = None
    precision = "f32"
    if "--precision" in args:
        i = args.index("--precision")
        precision = args[i + 1] if i + 1 < len(args) else ""
        if precision not in TOLERANCES:
            print("crosscheck: --precision must be f32 or f64")
            return 2
        del args[i:i + 2]
        TOL = TOLERANCES[precision]
    if "--perturb-grad" in args:
        i = args.index("--perturb-grad")
        perturb = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1:
        print(__doc__)
        return 2
    d = args[0]
    try:
        names = [l.strip() for l in open(os.path.join(d, "manifest.txt")) if l.strip()]
    except OSError as e:
        print(f"crosscheck: cannot read {d}/manifest.txt: {e.strerror}")
        return 2
    torch.set_num_threads(1)
    hdr = f"{'config':<28} {'logits abs':>10} {'rel':>8} {'loss abs':>10} {'rel':>8} {'grads abs':>10} {'rel':>8}  result  worst grad tensor"
    print(f"archlab {'float32 (bin/archlab)' if precision == 'f32' else 'float64 (bin/archlab64)'} vs reference float64; "
          f"rel = max abs err / max |ref| per tensor (gradients: max |ref| floored at 1e-3 x the model's largest gradient)")
    print(f"tolerances: logits rel {TOL['logits']:g}, loss rel {TOL['loss']:g}, each gradient tensor rel {TOL['grads']:g}")
    print(hdr)
    print("-" * len(hdr))
    fails, t0 = 0, time.time()
    for name in names:
        try:
            res, ok, worst, npar = check(d, name, perturb)
        except (archref.ConfigError, st_io.SafetensorsError) as e:
            print(f"{name:<28} ERROR: {e}")
            fails += 1
            continue
        fails += not ok
        r = res
        print(f"{name:<28} {r['logits'][0]:10.2e} {r['logits'][1]:8.1e} {r['loss'][0]:10.2e} {r['loss'][1]:8.1e} "
              f"{r['grads'][0]:10.2e} {r['grads'][1]:8.1e}  {'PASS' if ok else 'FAIL'}    {worst}")
    print("-" * len(hdr))
    print(f"crosscheck {precision}: {len(names) - fails} of {len(names)} configs PASS, {fails} FAIL ({time.time() - t0:.1f} s)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
