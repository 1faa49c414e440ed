-- fp8: DeepSeek-V3's FP8 mixed-precision training (V3 sec. 3.3), simulated on the CPU (core/lowp_linear.h,
-- docs/LOWP.md), in three measurements:
--   1. training: the same model, seeds and batches with its linear layers in fp32, bf16, fp8 with V3's
--      fine-grained scaling (1 x 128 activation tiles, 128 x 128 weight blocks) and fp8 with one scale per
--      tensor; the loss relative to bf16 (V3: below 0.25%), beside the seed-to-seed difference;
--   2. outliers: a GEMM whose activations hold a few "massive activation" tokens (1e4 x the rest): per-tensor
--      scaling flushes the ordinary tokens towards FP8's subnormals, tile-wise scaling keeps them;
--   3. accumulation: a K = 4096 product of E4M3 operands with a 14-bit accumulator, against the interval at
--      which partial sums are promoted to FP32 (V3: ~2% maximum relative error without promotion; N_C = 128).
-- Usage: bin/archlab experiments/fp8.lua [steps] [quick] [out=DIR]; default 300 steps, 2 seeds; quick: 3 steps.
local E = require("archlab.experiment")
local opt = E.args("fp8")
local out = opt.out
local T = archlab.tensor
local steps = tonumber(opt.pos[1]) or (opt.quick and 3 or 300)
local seeds = opt.quick and { 1 } or { 1, 2 }
local data = archlab.data.text()
-- wider than a tile (d_ff 352: three 1 x 128 tiles per row, weights of several 128 x 128 blocks)
local base = { d_model = 128, n_layers = 2, n_heads = 4, d_ff = 352, seq_len = 64 }
local recipes = {
  { name = "fp32", precision = "fp32" },
  { name = "bf16", precision = "bf16" },
  { name = "fp8 tile", precision = "fp8", fp8_scaling = "tile" },
  { name = "fp8 tensor", precision = "fp8", fp8_scaling = "tensor" },
}

-- ---- 1. training ----
local runs, series, trained_bf16 = {}, {}, {}
for _, r in ipairs(recipes) do
  runs[r.name] = {}
  for _, seed in ipairs(seeds) do
    local m = archlab.model(E.merge(base, { seed = seed }))
    local run = archlab.train{ model = m, data = data, steps = steps, batch_size = 16, lr = 3e-3, warmup = 20,
                               seed = seed, eval_batches = opt.quick and 1 or 16, log_every = opt.quick and 1 or 10,
                               precision = r.precision, fp8_scaling = r.fp8_scaling, quiet = true,
                               label = r.name .. " seed " .. seed }
    runs[r.name][seed] = { train_loss = run.train_loss, val_loss = run.val_loss, tokens_per_s = run.tokens_per_s,
                           seconds = run.seconds, loss = E.series(run, "loss") }
    if r.name == "bf16" then trained_bf16[seed] = m end
    if seed == seeds[1] then
      local s = run:series("loss")
      s.name = r.name
      series[#series + 1] = s
    end
  end
end
-- relative to bf16 of the same seed: the final training loss (mean of the last log window) and the validation loss
local rows, cmp = {}, {}
local function rel(a, b) return math.abs(a - b) / b end
for _, r in ipairs(recipes) do
  local tr, va, tps = {}, {}, 0
  for _, seed in ipairs(seeds) do
    local x, b = runs[r.name][seed], runs.bf16[seed]
    tr[#tr + 1] = rel(x.train_loss, b.train_loss)
    va[#va + 1] = rel(x.val_loss, b.val_loss)
    tps = tps + x.tokens_per_s / #seeds
  end
  cmp[r.name] = { rel_train = E.max(tr), rel_val = E.max(va), tokens_per_s = tps,
                  val_loss = runs[r.name][seeds[1]].val_loss }
  rows[#rows + 1] = string.format("%-11s val %.4f  train/val loss vs bf16 (worst seed) %6.3f%% / %6.3f%%  %7.0f tokens/s",
                                  r.name, cmp[r.name].val_loss, 100 * cmp[r.name].rel_train, 100 * cmp[r.name].rel_val, tps)
end
-- the seed-to-seed difference of bf16 itself: what a "difference" must exceed to mean anything at this scale
local noise = #seeds > 1 and rel(runs.bf16[seeds[2]].val_loss, runs.bf16[seeds[1]].val_loss) or 0 / 0
-- 1b. the arithmetic alone: the bf16-trained weights evaluated with each precision's forward pass (the same
-- weights and batches, so trajectories cannot diverge): relative to the bf16 evaluation
local fixed = {}
for _, r in ipairs(recipes) do
  local worst = 0
  for _, seed in ipairs(seeds) do
    local m = trained_bf16[seed]
    local ev = { data = data, batches = opt.quick and 1 or 16, batch_size = 16, seq_len = base.seq_len }
    local ref = m:evaluate(E.merge(ev, { precision = "bf16" }))
    local l = m:evaluate(E.merge(ev, { precision = r.precision, fp8_scaling = r.fp8_scaling }))
    worst = math.max(worst, rel(l, ref))
  end
  fixed[r.name] = worst
end

-- ---- 2. outliers: tile-wise vs per-tensor scaling of one GEMM, against the outliers' magnitude ----
math.randomseed(7)
local function gauss() return math.sqrt(-2 * math.log(1 - math.random())) * math.cos(2 * math.pi * math.random()) end
local M, K, N = 256, 512, 128
local massive = { [17] = true, [200] = true }
local base_x, ws = {}, {}
for i = 1, M * K do base_x[i] = gauss() end
for i = 1, N * K do ws[i] = gauss() * 0.05 end
local W = T.from(ws):reshape(N, K)
local factors = { 1e1, 1e2, 1e3, 1e4, 1e5 }
local outlier, out_series = {}, { { name = "1 x 128 tiles", x = {}, y = {}, marker = true },
                                  { name = "per tensor", x = {}, y = {}, marker = true } }
for _, f in ipairs(factors) do
  local xs = {}
  for i = 1, M do
    for k = 1, K do xs[(i - 1) * K + k] = base_x[(i - 1) * K + k] * (massive[i] and f or 1) end
  end
  local X = T.from(xs):reshape(M, K)
  local exact = X:astype("f64"):matmul(W:astype("f64"):T())
  -- the relative error of each ordinary token's output row: the median and the worst
  local function ordinary_error(Y)
    local errs = {}
    for i = 1, M do
      if not massive[i] then errs[#errs + 1] = (Y[i]:astype("f64") - exact[i]):norm() / exact[i]:norm() end
    end
    table.sort(errs)
    return { median = errs[(#errs + 1) // 2], worst = errs[#errs] }
  end
  local rec = { factor = f }
  for j, v in ipairs{ { "tile", { 1, 128 }, { 128, 128 } }, { "tensor", "tensor", "tensor" } } do
    local Y = archlab.lowp.matmul(X, W, { format = "e4m3", tile_a = v[2], tile_b = v[3], accum_bits = 0 })
    rec[v[1]] = ordinary_error(Y)
    out_series[j].x[#out_series[j].x + 1] = f
    out_series[j].y[#out_series[j].y + 1] = rec[v[1]].median
  end
  -- how many ordinary activations per-tensor scaling flushes to zero
  local deq = archlab.lowp.quantize(X, { format = "e4m3", tile = "tensor" })
  local flushed, n = 0, 0
  for i = 1, M do
    if not massive[i] then
      for k = 1, K, 8 do
        n = n + 1
        if deq[{ i, k }] == 0 and X[{ i, k }] ~= 0 then flushed = flushed + 1 end
      end
    end
  end
  rec.tensor_flushed_fraction = flushed / n
  outlier[#outlier + 1] = rec
end

-- ---- 3. accumulation error of a K = 4096 product against the promotion interval ----
local AK, AM = 4096, 32
local as, bs = {}, {}
for i = 1, AM * AK do as[i] = math.random() end -- positive: the sum grows with k, as in V3's argument
for i = 1, AM * AK do bs[i] = math.random() end
local A, B = T.from(as):reshape(AM, AK), T.from(bs):reshape(AM, AK)
-- the exact product of the quantized operands (in double), so only accumulation is measured
local QA = archlab.lowp.quantize(A, { format = "e4m3", tile = "tensor" })
local QB = archlab.lowp.quantize(B, { format = "e4m3", tile = "tensor" })
local ref = QA:astype("f64"):matmul(QB:astype("f64"):T())
local intervals = { 16, 32, 64, 128, 256, 512, 1024, 2048, 0 } -- 0: never (plotted at K)
local accum = {}
local acc_series = {}
for _, mode in ipairs{ { "toward_zero", 14 }, { "nearest", 14 }, { "toward_zero", 13 } } do
  local ys, xs_ = {}, {}
  local key = mode[1] .. mode[2]
  accum[key] = {}
  for _, every in ipairs(intervals) do
    local C = archlab.lowp.matmul(A, B, { format = "e4m3", tile_a = "tensor", tile_b = "tensor", accum_bits = mode[2],
                                         promote_every = every, accum_round = mode[1] })
    local err = ((C:astype("f64") - ref):abs() / ref):max()
    accum[key][#accum[key] + 1] = { promote_every = every, max_rel_error = err }
    xs_[#xs_ + 1] = every == 0 and AK or every -- "never" plotted at K
    ys[#ys + 1] = err
  end
  acc_series[#acc_series + 1] = { name = string.format("%d bits, %s", mode[2], mode[1] == "toward_zero" and "truncating" or "nearest"),
                                  x = xs_, y = ys, marker = true }
end
local none14 = accum.toward_zero14[#intervals].max_rel_error
local at128
for _, e in ipairs(accum.toward_zero14) do if e.promote_every == 128 then at128 = e.max_rel_error end end

-- ---- report ----
print(string.format("\nfp8: %d steps, seeds %s; bf16 seed-to-seed val difference %.3f%%", steps,
                    table.concat(seeds, ","), 100 * noise))
for _, r in ipairs(rows) do print(r) end
for _, r in ipairs(recipes) do
  print(string.format("%-11s the bf16-trained weights' validation loss, this forward vs bf16's: %.4f%% (worst seed)", r.name, 100 * fixed[r.name]))
end
for _, o in ipairs(outlier) do
  print(string.format("outliers: 2 of %d tokens x %.0e: ordinary tokens' output error, median (worst): tile %.2f%% (%.2f%%), per tensor %.1f%% (%.1f%%), %.1f%% of their activations flushed to 0",
                      M, o.factor, 100 * o.tile.median, 100 * o.tile.worst, 100 * o.tensor.median, 100 * o.tensor.worst,
                      100 * o.tensor_flushed_fraction))
end
print(string.format("accumulation, K = %d, 14-bit truncating accumulator: max relative error %.2f%% without promotion, %.4f%% promoted every 128",
                    AK, 100 * none14, 100 * at128))
local bars_names, bars_vals = {}, {}
for _, r in ipairs(recipes) do bars_names[#bars_names + 1] = r.name; bars_vals[#bars_vals + 1] = 100 * cmp[r.name].rel_val end
archlab.plot.panels{ file = out .. "fp8.png", cols = 2, width = 1000, height = 700,
  title = string.format("FP8 training simulated (V3 sec. 3.3): %d steps, d 128, 2 blocks", steps),
  plots = {
    { kind = "lines", title = "training loss", xlabel = "step", ylabel = "loss (nats/byte)", series = series },
    { kind = "bars", title = "validation loss vs bf16 (worst seed)", ylabel = "relative difference (%)",
      categories = bars_names, values = bars_vals, labels = true },
    { kind = "lines", title = "a GEMM with 2 massive-activation tokens", xlabel = "their magnitude / the others'",
      ylabel = "ordinary tokens' output error (median)", log_x = true, log_y = true, series = out_series },
    { kind = "lines", title = "K = 4096 accumulation error", xlabel = "promotion interval N_C (none at 4096)",
      ylabel = "max relative error", log_x = true, log_y = true, series = acc_series },
  } }
print("figure: " .. out .. "fp8.png")
E.finish(opt, {
  scale = { steps = steps, seeds = seeds, d_model = base.d_model, n_layers = base.n_layers, d_ff = base.d_ff,
            seq_len = base.seq_len, batch_size = 16 },
  training = cmp, runs = runs, bf16_seed_noise = noise, fixed_weights_rel_to_bf16 = fixed,
  outliers = { tokens = M, k = K, n = N, massive_tokens = 2, by_factor = outlier },
  accumulation = { k = AK, by_mode = accum, none_14_truncating = none14, promote128_14_truncating = at128 },
  figures = { "fp8.png" },
})
