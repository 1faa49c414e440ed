-- moe_balance: the same small DeepSeekMoE (V3-style sigmoid routing, 8 routed experts, top-2, 1 shared) trained
-- on English text three ways: no balancing, the expert-level auxiliary loss (V2, a1), and the auxiliary-loss-free
-- bias (V3, gamma, plus its tiny sequence-wise loss). Reports validation loss and MaxVio (the last training
-- batch and over the validation set) and draws MaxVio over training and the layer x expert load.
-- Usage: bin/archlab experiments/moe_balance.lua [steps] [aux_alpha] [quick] [out=DIR]
--   defaults 400 steps, aux_alpha 0.01; quick: 5 steps. Figures and results.json land in DIR
--   (default out/moe_balance/).
local E = require("archlab.experiment")
local opt = E.args("moe_balance")
local out = opt.out
local steps = tonumber(opt.pos[1]) or (opt.quick and 5 or 400)
local aux_alpha = tonumber(opt.pos[2]) or 0.01
local nb = opt.quick and 2 or 16 -- validation batches
local data = archlab.data.text()

local base = { preset = "tiny", seq_len = 64, n_layers = 2, ffn = "moe", n_routed_experts = 8, num_experts_per_tok = 2,
               n_shared_experts = 1, moe_intermediate_size = 48, scoring_func = "sigmoid", norm_topk_prob = 1,
               seed = 1 }
local variants = {
  { name = "none", cfg = { balance = "none" } },
  { name = "aux loss", cfg = { balance = "aux", aux_alpha = aux_alpha } },
  { name = "aux-free bias", cfg = { balance = "aux_free" } },   -- gamma 0.001, seq_alpha 1e-4 (V3)
}

local series, heat, rows, recs = {}, {}, {}, {}
for i, v in ipairs(variants) do
  local cfg = E.merge(base, v.cfg)
  local m = archlab.model(cfg)
  local run = archlab.train{ model = m, data = data, steps = steps, batch_size = 16, lr = 3e-3, warmup = 20,
                             eval_batches = nb, seed = 1, log_every = opt.quick and 1 or 10, label = "moe " .. v.name,
                             metrics = out .. "run_" .. i .. ".jsonl", quiet = true }
  local val = m:expert_load{ data = data, batches = nb, batch_size = 16 }
  -- the MoE blocks (val.layers, numbered from 0 as model.layers.<l>): in tiny with no dense replacement, 0 and 1
  local train_vio, n = 0, 0
  for _, l in ipairs(val.layers) do
    local s = run:series("layer" .. l .. ".maxvio")
    for j = math.max(1, #s.y - 4), #s.y do train_vio = train_vio + s.y[j]; n = n + 1 end
  end
  train_vio = train_vio / n
  local vmean = 0
  for _, x in ipairs(val.maxvio) do vmean = vmean + x / #val.maxvio end
  rows[#rows + 1] = string.format("%-14s val loss %.4f   MaxVio train (last 5 logs, mean of layers) %.3f   "
                                  .. "MaxVio val (mean of layers) %.3f, worst layer %.3f   dead experts (val) %s",
                                  v.name, run.val_loss, train_vio, vmean, val.maxvio_max, table.concat(val.dead, "/"))
  local s = run:series("layer" .. val.layers[#val.layers] .. ".maxvio")
  s.name = v.name
  series[#series + 1] = s
  local rec = { name = v.name, balance = v.cfg.balance, val_loss = run.val_loss, train_loss = run.train_loss,
                maxvio_train_last = train_vio, maxvio_val_mean = vmean, maxvio_val = val.maxvio,
                maxvio_val_worst = val.maxvio_max, dead = val.dead, fractions = val.fractions, layers = val.layers,
                experts = val.experts, seconds = run.seconds, loss = E.series(run, "loss"), maxvio_series = {} }
  for _, l in ipairs(val.layers) do rec.maxvio_series["layer" .. l] = E.series(run, "layer" .. l .. ".maxvio") end
  recs[#recs + 1] = rec
  heat[#heat + 1] = { kind = "heatmap", title = v.name .. " (val load fraction)", xlabel = "expert",
                      ylabel = "sub-layer", values = val.fractions, vmin = 0, vmax = 0.5,
                      y_labels = (function() local t = {} for j, l in ipairs(val.layers) do t[j] = tostring(l) end return t end)(),
                      x_labels = (function() local t = {} for e = 1, val.experts do t[e] = tostring(e - 1) end return t end)() }
end

print(string.format("\nmoe_balance: %d steps, 8 routed experts top-2 + 1 shared, sigmoid routing; aux_alpha %g", steps, aux_alpha))
for _, r in ipairs(rows) do print(r) end
local losses = {}
for i, r in ipairs(recs) do losses[i] = { name = r.name, x = r.loss.x, y = r.loss.y } end
archlab.plot.panels{ file = out .. "maxvio.png", cols = 2, width = 900, height = 380,
                     title = string.format("MoE load balancing: 8 routed experts top-2 + 1 shared, %d steps", steps),
                     plots = {
                       { kind = "lines", title = "MaxVio of the last MoE layer (training batches)", xlabel = "step",
                         ylabel = "MaxVio", series = series },
                       { kind = "lines", title = "training loss", xlabel = "step", ylabel = "loss (nats/byte)", series = losses },
                     } }
archlab.plot.panels{ file = out .. "load.png", title = "expert load fraction over the validation set (uniform = 0.125)", cols = 3,
                     width = 1100, height = 300, plots = heat }
print("figures: " .. out .. "maxvio.png, " .. out .. "load.png")
E.finish(opt, { scale = { steps = steps, aux_alpha = aux_alpha, routed = 8, top_k = 2, shared = 1, n_layers = base.n_layers,
                          seq_len = base.seq_len, batch_size = 16, val_batches = nb },
                variants = recs, figures = { "maxvio.png", "load.png" } })
