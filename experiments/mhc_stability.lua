-- mHC stability: the standard residual vs hyper-connections (HC) vs manifold-constrained HC (mHC) at matched
-- settings on the default corpus, deep enough for the residual mappings to compound (30 blocks = 60
-- sub-layers, each one layer of the family). Records loss, gradient norm and the Amax gains (mHC sec. 3.1)
-- of the composite mapping prod H_res over the full depth, every `record_every` steps; HC is also run at a
-- rising learning rate to look for the instability the paper reports at 27B scale.
--
-- Usage: bin/archlab experiments/mhc_stability.lua [quick] [out=DIR]   figures, summary.md and results.json land
-- in DIR (default out/mhc_stability/)
local E = require("archlab.experiment")
local opt = E.args("mhc_stability")
local quick = opt.quick
local out = opt.out
local data = archlab.data.text()

local base = { d_model = 64, n_layers = quick and 4 or 30, n_heads = 4, d_ff = 192, seq_len = 64, seed = 1 }
local steps = quick and 12 or 300
local runs = {}     -- label -> { run = ..., model = ..., kind = ..., lr = ... }
local order = {}

local function train(kind, lr)
  local cfg = {}
  for k, v in pairs(base) do cfg[k] = v end
  cfg.residual = kind
  local model = archlab.model(cfg)
  local label = string.format("%s lr=%g", kind, lr)
  local run = archlab.train{
    model = model, data = data, steps = steps, batch_size = 8, lr = lr, warmup = math.floor(steps / 10),
    schedule = "cosine", grad_clip = 1.0, log_every = quick and 4 or 10, record_every = quick and 4 or 10,
    eval_batches = 8, label = label, seed = 1,
    metrics = out .. label:gsub("[ =]", "_") .. ".jsonl", quiet = quick,
  }
  runs[label] = { run = run, model = model, kind = kind, lr = lr }
  order[#order + 1] = label
  return run
end

local function max_of(series)
  local m = -math.huge
  for _, v in ipairs(series.y) do if v == v and v > m then m = v end end
  return m
end

-- the loss spike measure: the largest rise of the logged loss over its running minimum
local function worst_spike(series)
  local lo, spike = math.huge, 0
  for _, v in ipairs(series.y) do
    if v < lo then lo = v end
    if v - lo > spike then spike = v - lo end
  end
  return spike
end

local lrs = quick and { 1e-2 } or { 3e-3, 1e-2 }
for _, lr in ipairs(lrs) do
  for _, kind in ipairs{ "residual", "hc", "mhc" } do train(kind, lr) end
end
-- the learning-rate search for HC: keep raising it while HC trains without diverging, up to 1e-1
if not quick then
  for _, lr in ipairs{ 3e-2, 1e-1 } do
    local r = train("hc", lr)
    if r.diverged then break end
  end
  train("mhc", 3e-2)
end

-- summary table
local lines = { "| run | final train loss | val loss | max grad norm | worst loss spike | composite gain fwd (end / max) | bwd (end / max) | diverged |",
                "|---|---|---|---|---|---|---|---|" }
local summary = {}
for _, label in ipairs(order) do
  local r = runs[label]
  local run = r.run
  local gf, gb = "1 (identity)", "1 (identity)"
  local s = { label = label, kind = r.kind, lr = r.lr, train_loss = run.train_loss, val_loss = run.val_loss,
              max_grad_norm = max_of(run:series("grad_norm")), spike = worst_spike(run:series("loss")),
              diverged = run.diverged }
  if r.kind ~= "residual" and run.steps > 0 then
    local f, b = run:series("amax_gain_fwd"), run:series("amax_gain_bwd")
    s.gain_fwd_end, s.gain_fwd_max = f.y[#f.y], max_of(f)
    s.gain_bwd_end, s.gain_bwd_max = b.y[#b.y], max_of(b)
    gf = string.format("%.3g / %.3g", s.gain_fwd_end, s.gain_fwd_max)
    gb = string.format("%.3g / %.3g", s.gain_bwd_end, s.gain_bwd_max)
  end
  summary[#summary + 1] = s
  lines[#lines + 1] = string.format("| %s | %.4f | %.4f | %.3g | %.3g | %s | %s | %s |", label, run.train_loss,
                                    run.val_loss, s.max_grad_norm, s.spike, gf, gb, run.diverged and ("step " .. run.diverged_step) or "no")
end
local text = table.concat(lines, "\n")
print(text)
local f = assert(io.open(out .. "summary.md", "w"))
f:write(string.format("# mHC stability: %d blocks (%d sub-layers), d_model %d, %d steps of 8 x %d bytes\n\n",
                      base.n_layers, 2 * base.n_layers, base.d_model, steps, base.seq_len), text, "\n")
f:close()

-- figures
local function series_of(name, filter, marker)
  local list = {}
  for _, label in ipairs(order) do
    local r = runs[label]
    if filter(r) and r.run.steps > 0 then
      local s
      if r.kind == "residual" and (name == "amax_gain_fwd" or name == "amax_gain_bwd") then
        -- the standard residual's mapping is the identity: gain exactly 1 at every step
        local g = r.run:series("grad_norm")
        s = { x = g.x, y = {} }
        for i = 1, #g.x do s.y[i] = 1 end
      else
        s = r.run:series(name)
      end
      s.name = label
      list[#list + 1] = s
    end
  end
  return list
end
local all = function() return true end
archlab.plot.panels{
  file = out .. "training.png", title = string.format("residual vs HC vs mHC, %d sub-layers", 2 * base.n_layers), cols = 2,
  width = 900, height = 900,
  plots = {
    { kind = "lines", title = "training loss", xlabel = "step", ylabel = "loss (nats/byte)", series = series_of("loss", all) },
    { kind = "lines", title = "gradient norm (before clipping)", xlabel = "step", log_y = true, series = series_of("grad_norm", all) },
    { kind = "lines", title = "Amax gain, forward (composite, full depth)", xlabel = "step", ylabel = "Amax gain", log_y = true, series = series_of("amax_gain_fwd", all) },
    { kind = "lines", title = "Amax gain, backward (composite, full depth)", xlabel = "step", ylabel = "Amax gain", log_y = true, series = series_of("amax_gain_bwd", all) },
    { kind = "lines", title = "largest single-layer gain, forward", xlabel = "step", ylabel = "Amax gain", log_y = true,
      series = series_of("max_single_gain_fwd", function(r) return r.kind ~= "residual" end) },
    { kind = "lines", title = "largest single-layer gain, backward", xlabel = "step", ylabel = "Amax gain", log_y = true,
      series = series_of("max_single_gain_bwd", function(r) return r.kind ~= "residual" end) },
  },
}
-- gain against depth at the end of training: composite (from layer l to the top) forward and backward, and the
-- single-layer gains, one panel each, for every HC and mHC run that did not diverge
local comp_f, comp_b, single, single_b = {}, {}, {}, {}
local depth = {}
for _, label in ipairs(order) do
  local r = runs[label]
  if r.kind ~= "residual" and not r.run.diverged then
    local g = r.model:gains{ data = data }
    comp_f[#comp_f + 1] = { name = label, x = g.sublayer, y = g.composite_fwd }
    comp_b[#comp_b + 1] = { name = label, x = g.sublayer, y = g.composite_bwd }
    single[#single + 1] = { name = label, x = g.sublayer, y = g.single_fwd }
    single_b[#single_b + 1] = { name = label, x = g.sublayer, y = g.single_bwd }
    depth[label] = g
  end
end
archlab.plot.panels{
  file = out .. "gain_vs_depth.png", title = "Amax gain of the residual mappings against depth, end of training",
  cols = 2, width = 900, height = 680,
  plots = {
    { kind = "lines", title = "composite l -> top, forward", xlabel = "sub-layer l (2 per block, from 0)", ylabel = "Amax gain", log_y = true, series = comp_f },
    { kind = "lines", title = "composite l -> top, backward", xlabel = "sub-layer l (2 per block, from 0)", ylabel = "Amax gain", log_y = true, series = comp_b },
    { kind = "lines", title = "single layer H_res, forward", xlabel = "sub-layer l (2 per block, from 0)", ylabel = "Amax gain", log_y = true, series = single },
    { kind = "lines", title = "single layer H_res, backward", xlabel = "sub-layer l (2 per block, from 0)", ylabel = "Amax gain", log_y = true, series = single_b },
  },
}
print("figures: " .. out .. "training.png, " .. out .. "gain_vs_depth.png; table: " .. out .. "summary.md")

-- everything measured, for the report (experiments/report.lua)
local res = { scale = { n_layers = base.n_layers, sub_layers = 2 * base.n_layers, d_model = base.d_model,
                        n_heads = base.n_heads, d_ff = base.d_ff, seq_len = base.seq_len, batch_size = 8, steps = steps,
                        tokens = steps * 8 * base.seq_len },
              runs = {}, figures = { "training.png", "gain_vs_depth.png" } }
for i, s in ipairs(summary) do
  local r = runs[s.label]
  local rec = { label = s.label, kind = s.kind, lr = s.lr, train_loss = s.train_loss, val_loss = s.val_loss,
                max_grad_norm = s.max_grad_norm, worst_spike = s.spike, diverged = s.diverged and true or false,
                diverged_step = r.run.diverged and r.run.diverged_step or nil,
                gain_fwd_end = s.gain_fwd_end, gain_fwd_max = s.gain_fwd_max, gain_bwd_end = s.gain_bwd_end,
                gain_bwd_max = s.gain_bwd_max, seconds = r.run.seconds, series = {} }
  for _, name in ipairs{ "loss", "grad_norm", "amax_gain_fwd", "amax_gain_bwd", "max_single_gain_fwd",
                         "max_single_gain_bwd", "composite_spectral_norm" } do
    if r.kind ~= "residual" or name == "loss" or name == "grad_norm" then
      if r.run.steps > 0 then rec.series[name] = E.series(r.run, name) end
    end
  end
  local g = depth[s.label]
  if g then
    rec.depth = { sublayer = g.sublayer, layer = g.layer, composite_fwd = g.composite_fwd, composite_bwd = g.composite_bwd,
                  single_fwd = g.single_fwd, single_bwd = g.single_bwd }
    rec.max_single_fwd_end, rec.max_single_bwd_end = E.max(g.single_fwd), E.max(g.single_bwd)
  end
  res.runs[i] = rec
end
E.finish(opt, res)
return summary
