-- moe_granularity: DeepSeekMoE's fine-grained expert segmentation and shared-expert isolation at equal
-- activated AND equal total parameters: every variant has an expert capacity of 8 x 128 = 1024 SwiGLU
-- columns per layer, of which 256 are active per token.
--   coarse:          8 routed experts of 128, top-2
--   fine:           32 routed experts of 32,  top-8
--   coarse+shared:   1 shared of 128 + 7 routed of 128, top-1
--   fine+shared:     2 shared of 32 + 30 routed of 32, top-6
-- Usage: bin/archlab experiments/moe_granularity.lua [steps] [quick] [out=DIR]
--   default 400 steps; quick: 5. Figures and results.json land in DIR (default out/moe_granularity/).
local E = require("archlab.experiment")
local opt = E.args("moe_granularity")
local out = opt.out
local steps = tonumber(opt.pos[1]) or (opt.quick and 5 or 400)
local nb = opt.quick and 2 or 16
local data = archlab.data.text()
local base = { preset = "tiny", seq_len = 64, ffn = "moe", scoring_func = "softmax", balance = "aux",
               aux_alpha = 0.01, seed = 1 }
local variants = {
  { name = "coarse",        cfg = { n_routed_experts = 8,  num_experts_per_tok = 2, n_shared_experts = 0, moe_intermediate_size = 128 } },
  { name = "fine",          cfg = { n_routed_experts = 32, num_experts_per_tok = 8, n_shared_experts = 0, moe_intermediate_size = 32 } },
  { name = "coarse+shared", cfg = { n_routed_experts = 7,  num_experts_per_tok = 1, n_shared_experts = 1, moe_intermediate_size = 128 } },
  { name = "fine+shared",   cfg = { n_routed_experts = 30, num_experts_per_tok = 6, n_shared_experts = 2, moe_intermediate_size = 32 } },
}
local rows, series, names, vals, recs = {}, {}, {}, {}, {}
for _, v in ipairs(variants) do
  local cfg = E.merge(base, v.cfg)
  local m = archlab.model(cfg)
  local p = m:moe_params()
  local run = archlab.train{ model = m, data = data, steps = steps, batch_size = 16, lr = 3e-3, warmup = 20,
                             eval_batches = nb, seed = 1, log_every = opt.quick and 1 or 10, label = "moe " .. v.name,
                             quiet = true }
  local el = m:expert_load{ data = data, batches = nb, batch_size = 16 }
  rows[#rows + 1] = string.format("%-14s total %7d active %7d   val loss %.4f   val MaxVio (worst layer) %.3f   %.0f tokens/s",
                                  v.name, p.total, p.active, run.val_loss, el.maxvio_max, run.tokens_per_s)
  local s = run:series("loss")
  s.name = v.name
  series[#series + 1] = s
  names[#names + 1] = v.name
  vals[#vals + 1] = run.val_loss
  recs[#recs + 1] = { name = v.name, routed = v.cfg.n_routed_experts, top_k = v.cfg.num_experts_per_tok,
                      shared = v.cfg.n_shared_experts, expert_width = v.cfg.moe_intermediate_size, total_params = p.total,
                      active_params = p.active, val_loss = run.val_loss, train_loss = run.train_loss,
                      maxvio_val_worst = el.maxvio_max, tokens_per_s = run.tokens_per_s, seconds = run.seconds,
                      loss = E.series(run, "loss") }
end
print(string.format("\nmoe_granularity: %d steps, equal total and activated parameters", steps))
for _, r in ipairs(rows) do print(r) end
archlab.plot.panels{ file = out .. "granularity.png", cols = 2, width = 900, height = 380,
                     title = string.format("DeepSeekMoE granularity and shared experts (equal total and active parameters, %d steps)", steps),
                     plots = {
                       { kind = "lines", title = "training loss", xlabel = "step", ylabel = "loss (nats/byte)", series = series },
                       { kind = "bars", title = "validation loss", ylabel = "loss (nats/byte)", categories = names, values = vals,
                         labels = true },
                     } }
print("figures: " .. out .. "granularity.png")
E.finish(opt, { scale = { steps = steps, preset = "tiny", seq_len = base.seq_len, batch_size = 16, val_batches = nb,
                          capacity = "8 x 128 SwiGLU columns per layer, 256 active" },
                variants = recs, figures = { "granularity.png" } })
