-- Lesson: MoE granularity and shared experts. At the same total and activated parameters, split the experts
-- finer (more, smaller experts, more of them per token) and set one or two aside as always-on shared experts
-- (DeepSeekMoE). Counted on paper, then trained briefly on English text, one seed each.
-- Usage: bin/archlab experiments/lessons/moe_granularity.lua [steps] [quick] [out=DIR]
local L = require("archlab.lesson")
local E = require("archlab.experiment")
local opt = L.args("moe_granularity")
local steps = tonumber(opt.pos[1]) or (opt.quick and 3 or 150)
local data = archlab.data.text()
local base = { preset = "tiny", ffn = "moe", seed = 1 }
local variants = { -- 1024 routed SwiGLU columns in all, 256 active per token, in every variant
  { name = "coarse", cfg = { n_routed_experts = 8, moe_intermediate_size = 128, num_experts_per_tok = 2 } },
  { name = "fine", cfg = { n_routed_experts = 32, moe_intermediate_size = 32, num_experts_per_tok = 8 } },
  { name = "fine + shared", cfg = { n_routed_experts = 30, moe_intermediate_size = 32, num_experts_per_tok = 6,
                                    n_shared_experts = 2 } },
}
local series, rows, val = {}, {}, {}
for i, v in ipairs(variants) do
  local cfg = E.merge(base, v.cfg)
  local m = archlab.model(cfg)
  local p = m:params()
  local run = archlab.train{ model = m, data = data, steps = steps, batch_size = 16, lr = 3e-3, warmup = 10, seed = 1,
                             eval_batches = opt.quick and 1 or 8, log_every = opt.quick and 1 or 5, quiet = true }
  local s = run:series("loss")
  series[i] = { name = v.name, x = s.x, y = s.y }
  val[i] = run.val_loss
  rows[i] = { v.name, string.format("%d x %d, top-%d", v.cfg.n_routed_experts, v.cfg.moe_intermediate_size, v.cfg.num_experts_per_tok),
              tostring(v.cfg.n_shared_experts or 0), string.format("%.1fK", p.total / 1e3), string.format("%.1fK", p.activated / 1e3),
              string.format("%.4f", run.val_loss) }
end
local fig = opt.out .. "loss.png"
archlab.plot.lines{ file = fig, title = "training loss", xlabel = "step", ylabel = "loss (nats/byte)", series = series }
local function choose(n, k) local c = 1 for i = 1, k do c = c * (n - k + i) / i end return math.floor(c + 0.5) end
local c, f = variants[1].cfg, variants[2].cfg
local best = 1
for i = 2, #val do if val[i] < val[best] then best = i end end
L.handout(opt, {
  title = "MoE granularity and shared experts",
  question = "At equal total and activated parameters, do finer experts and shared experts learn faster?",
  figure = fig,
  caption = string.format("Training loss of the three layouts, %d steps of 16 x 128 bytes, one seed.", steps),
  header = { "layout", "routed experts", "shared", "total", "activated", "val loss" },
  rows = rows,
  sentences = {
    string.format("The lowest validation loss here is %s's, %.4f: %.4f below coarse's %.4f.", variants[best].name, val[best],
                  val[1] - val[best], val[1]),
    string.format("Fine experts choose %d of %d per token instead of %d of %d: %d combinations of experts instead of %d, at the same compute.",
                  f.num_experts_per_tok, f.n_routed_experts, c.num_experts_per_tok, c.n_routed_experts,
                  choose(f.n_routed_experts, f.num_experts_per_tok), choose(c.n_routed_experts, c.num_experts_per_tok)),
    string.format("One seed and %d steps: differences of a few hundredths are indications; the experiment moe_granularity runs longer.", steps),
  },
  numbers = { val_loss = val },
})
