-- inside: looking inside trained models with probes and tensors only (m:inspect, archlab.tensor), the worked
-- example of the README's "Looking inside" section.
--   1. attention maps: a small MHA model trained on English text, every head of both blocks on one sentence;
--   2. H_res: an HC and an mHC model trained the same way at a high learning rate, one sub-layer's residual
--      mapping for the sentence's last token side by side (HC's entries grow freely; mHC's rows and columns sum
--      to one), with the worst row and column sums over every token and sub-layer;
--   3. routing: a small DeepSeekMoE model (8 routed experts, top-1), the expert each character of the sentence is
--      sent to in each MoE block.
-- Usage: bin/archlab experiments/inside.lua [steps] [quick] [out=DIR]   (default 300 steps; quick: 5)
local E = require("archlab.experiment")
local T = archlab.tensor
local opt = E.args("inside")
local out = opt.out
local steps = tonumber(opt.pos[1]) or (opt.quick and 5 or 300)
local data = archlab.data.text()
local sentence = "The quick brown fox jumps over the lazy dog."
local chars = {}
for i = 1, #sentence do chars[i] = sentence:sub(i, i) == " " and "_" or sentence:sub(i, i) end

local function train(cfg, lr, label)
  local m = archlab.model(cfg)
  local run = archlab.train{ model = m, data = data, steps = steps, batch_size = 16, lr = lr, warmup = 10, seed = 1,
                             eval_batches = opt.quick and 1 or 8, label = label, quiet = true }
  return m, run
end

-- 1. attention maps
local m, run = train({ preset = "tiny", seed = 1 }, 3e-3, "inside attention")
local r = m:inspect{ text = sentence, capture = { "layer*.attn.probs" } }
local panels, entropy = {}, {}
for l = 0, 1 do
  local p = r["layer" .. l .. ".attn.probs"] -- (batch, head, query, key)
  for h = 1, p.shape[2] do
    local map = p[{ 1, h }]
    panels[#panels + 1] = { kind = "heatmap", title = string.format("block %d, head %d", l, h), values = map,
                            x_labels = chars, y_labels = chars, xlabel = "key", ylabel = "query", vmin = 0, vmax = 1 }
    -- how spread each head is: the mean over queries of the entropy of its distribution (nats)
    local logp = (map + 1e-12):log()
    entropy[#entropy + 1] = { block = l, head = h, mean_entropy = -(map * logp):sum() / map.shape[1] }
  end
end
archlab.plot.panels{ file = out .. "attention.png", cols = 4, width = 1400, height = 760,
                     title = string.format("attention of a 2-block MHA model after %d steps, on one sentence", steps),
                     plots = panels }

-- 2. H_res of HC and mHC: the same sub-layer, the last token
local hres, sums = {}, {}
for _, fam in ipairs{ "hc", "mhc" } do
  local mm = train({ preset = "tiny", residual = fam, seed = 1 }, 1e-2, "inside " .. fam)
  local c = mm:inspect{ text = sentence, capture = { "layer*.hres" } }
  local h = c["layer1.attn.hres"][{ 1, -1 }]   -- (n, n) for the last token
  hres[fam] = h
  local worst_row, worst_col, largest = 0, 0, 0
  for name, t in pairs(c) do
    worst_row = math.max(worst_row, (t:sum(4) - 1):abs():max())
    worst_col = math.max(worst_col, (t:sum(3) - 1):abs():max())
    largest = math.max(largest, t:abs():max())
  end
  sums[fam] = { worst_row_sum_err = worst_row, worst_col_sum_err = worst_col, largest_entry = largest,
                matrix = h:table() }
end
local labels = { "1", "2", "3", "4" }
archlab.plot.panels{ file = out .. "hres.png", cols = 2, width = 900, height = 420,
                     title = "H_res of block 1's attention for the last token, after training at lr 1e-2",
                     plots = {
                       { kind = "heatmap", title = string.format("HC: worst row sum off by %.2g", sums.hc.worst_row_sum_err),
                         values = hres.hc, labels = true, label_format = "%.2f", x_labels = labels, y_labels = labels,
                         xlabel = "from stream", ylabel = "to stream" },
                       { kind = "heatmap", title = string.format("mHC: rows and columns sum to 1 (within %.1g)",
                                                                 math.max(sums.mhc.worst_row_sum_err, sums.mhc.worst_col_sum_err)),
                         values = hres.mhc, labels = true, label_format = "%.2f", x_labels = labels, y_labels = labels,
                         xlabel = "from stream", ylabel = "to stream", vmin = 0, vmax = 1 },
                     } }

-- 3. routing: the expert chosen for each character, per MoE block
local moe = train({ preset = "tiny", ffn = "moe", n_routed_experts = 8, num_experts_per_tok = 1, n_shared_experts = 1,
                    moe_intermediate_size = 48, scoring_func = "sigmoid", balance = "aux_free", seed = 1 }, 3e-3, "inside moe")
local c = moe:inspect{ text = sentence, capture = { "layer*.ffn.router.experts" } }
local rows, used = {}, {}
for l = 0, 1 do
  local e = c["layer" .. l .. ".ffn.router.experts"][{ 1, {}, 1 }] -- (T): expert ids from 0
  rows[#rows + 1] = e:table()
  local seen, n = {}, 0
  for _, x in ipairs(rows[#rows]) do if not seen[x] then seen[x] = true; n = n + 1 end end
  used[#used + 1] = n
end
archlab.plot.heatmap{ file = out .. "routing.png", width = 1100, height = 260, values = rows, x_labels = chars,
                      y_labels = { "block 0", "block 1" }, labels = true, label_format = "%.0f", vmin = 0, vmax = 7,
                      cbar_label = "expert", title = "the routed expert each character goes to (8 experts, top-1, + 1 shared)" }

E.finish(opt, {
  scale = { steps = steps, sentence = sentence },
  attention = { val_loss = run.val_loss, heads = entropy },
  hres = sums,
  routing = { experts = rows, distinct_experts_per_block = used },
})
