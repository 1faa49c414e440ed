-- Lesson: keeping experts busy: an auxiliary loss (DeepSeek-V2) against the auxiliary-loss-free bias
-- (DeepSeek-V3). A router left alone sends most tokens to a few experts; the aux loss adds a gradient that
-- evens the load, the bias shifts the choice itself without touching the gradient. MaxVio = (max load - mean
-- load) / mean load over the experts of a layer: 0 is perfectly even.
-- Usage: bin/archlab experiments/lessons/balance.lua [steps] [quick] [out=DIR]
local L = require("archlab.lesson")
local E = require("archlab.experiment")
local opt = L.args("balance")
local steps = tonumber(opt.pos[1]) or (opt.quick and 3 or 150)
local data = archlab.data.text()
local base = { preset = "tiny", ffn = "moe", n_routed_experts = 8, num_experts_per_tok = 2, n_shared_experts = 1,
               moe_intermediate_size = 48, scoring_func = "sigmoid", norm_topk_prob = 1, seed = 1 }
local variants = { { name = "no balancing", balance = "none" }, { name = "aux loss (a1 = 0.01)", balance = "aux", aux_alpha = 0.01 },
                   { name = "aux-free bias", balance = "aux_free" } }
local series, rows, vio, loss, aux = {}, {}, {}, {}, {}
for i, v in ipairs(variants) do
  local cfg = E.merge(base, { balance = v.balance, aux_alpha = v.aux_alpha })
  local m = archlab.model(cfg)
  local run = archlab.train{ model = m, data = data, steps = steps, batch_size = 16, lr = 3e-3, warmup = 10, seed = 1,
                             eval_batches = opt.quick and 1 or 8, log_every = opt.quick and 1 or 5, quiet = true }
  local el = m:expert_load{ data = data, batches = opt.quick and 1 or 8, batch_size = 16 }
  local last = el.layers[#el.layers]
  local s = run:series("layer" .. last .. ".maxvio")
  series[i] = { name = v.name, x = s.x, y = s.y }
  local mean = 0
  for _, x in ipairs(el.maxvio) do mean = mean + x / #el.maxvio end
  vio[i], loss[i] = mean, run.val_loss
  local ok, a = pcall(run.series, run, "aux_loss") -- recorded only when a balance loss runs
  aux[i] = ok and #a.y > 0 and a.y[#a.y] or 0
  rows[i] = { v.name, string.format("%.3f", mean), string.format("%d", #el.dead > 0 and el.dead[#el.dead] or 0), string.format("%.4f", run.val_loss) }
end
local fig = opt.out .. "maxvio.png"
archlab.plot.lines{ file = fig, title = "MaxVio of the last MoE block during training", xlabel = "step", ylabel = "MaxVio", series = series }
L.handout(opt, {
  title = "Keeping experts busy: aux loss against aux-loss-free balancing",
  question = "How unevenly does a router spread tokens over 8 experts, and what do V2's aux loss and V3's bias change?",
  figure = fig,
  caption = string.format("MaxVio of the last MoE block over %d training steps, one seed each.", steps),
  header = { "balancing", "MaxVio on validation (mean of blocks)", "dead experts (last block)", "val loss" },
  rows = rows,
  sentences = {
    string.format("Without balancing the busiest expert gets %.0f%% more tokens than the mean; the aux loss brings that to %.0f%%, the bias to %.0f%%.",
                  100 * vio[1], 100 * vio[2], 100 * vio[3]),
    string.format("Validation loss: %.4f without balancing, %.4f with the aux loss, %.4f with the bias.", loss[1], loss[2], loss[3]),
    string.format("The aux loss adds %.4f nats to the last step's objective; the bias variant's own sequence-wise term adds %.5f.",
                  aux[2], aux[3]),
  },
  numbers = { maxvio = vio, val_loss = loss, aux_loss_last = aux },
})
