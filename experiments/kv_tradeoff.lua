-- kv_tradeoff: MHA, GQA, MQA and MLA models of matched parameter count, trained on the same data, compared on
--   validation loss (byte-level text, Debian's fortunes), KV-cache bytes per token (measured from what the
--   attention layers allocate, beside DeepSeek-V2 Table 1's formula) and needle-in-a-haystack recall
--   (a copy of each model trained on the synthetic NIAH task, evaluated on lengths x depths up to 2048).
-- Usage: bin/archlab experiments/kv_tradeoff.lua [text_steps] [niah_steps] [trials] [quick] [out=DIR]
--   defaults 150 150 4 (about 10 minutes on one thread); quick: 3 3 1 on a 2 x 2 grid. Figures, the NIAH
--   grids and results.json land in DIR (default out/kv_tradeoff/).
-- Parameter counts are matched by widening/narrowing each model's SwiGLU d_ff to the MHA model's total.
io.stdout:setvbuf("line") -- one result line per model as it finishes
local E = require("archlab.experiment")
local opt = E.args("kv_tradeoff")
local out = opt.out
local text_steps = tonumber(opt.pos[1]) or (opt.quick and 3 or 150)
local niah_steps = tonumber(opt.pos[2]) or (opt.quick and 3 or 150)
local trials = tonumber(opt.pos[3]) or (opt.quick and 1 or 4)

local base = { vocab_size = 256, d_model = 128, n_layers = 4, n_heads = 8, d_ff = 352, seq_len = 2048, seed = 1 }
if opt.quick then base.d_model, base.n_layers, base.d_ff, base.seq_len = 64, 1, 176, 256 end
local bs_text, bs_niah = opt.quick and 2 or 16, opt.quick and 2 or 32
local families = {
  { name = "MHA", cfg = { attention = "mha" } },
  { name = "GQA (2 kv heads)", cfg = { attention = "gqa", n_kv_heads = 2 } },
  { name = "MQA", cfg = { attention = "mqa" } },
  -- V2's ratios: d_c = 4 d_h, d_hR = d_h / 2 (d_h = 16)
  { name = "MLA (d_c 64, d_hR 8)", cfg = { attention = "mla", kv_lora_rank = 64, qk_rope_head_dim = 8 } },
}

local function config(extra, d_ff)
  local c = {}
  for k, v in pairs(base) do c[k] = v end
  for k, v in pairs(extra) do c[k] = v end
  if d_ff then c.d_ff = d_ff end
  return c
end

local target = archlab.model(config(families[1].cfg)):params().total
local C, L = base.d_model, base.n_layers
for _, f in ipairs(families) do
  local p = archlab.model(config(f.cfg)):params().total
  f.d_ff = base.d_ff + math.floor((target - p) / (3 * C * L) + 0.5) -- SwiGLU: 3 C d_ff per block
end

local text = archlab.data.text()
local task = archlab.data.niah{ keys = 16, values = 16, filler = 64 }
local lengths, depths = { 128, 256, 512, 1024, 2048 }, { 0, 0.25, 0.5, 0.75, 1 }
if opt.quick then lengths, depths = { 128, 256 }, { 0, 1 } end -- the smoke test of make test
local results = {}
for _, f in ipairs(families) do
  local m = archlab.model(config(f.cfg, f.d_ff))
  local run = archlab.train{ model = m, data = text, steps = text_steps, batch_size = bs_text, seq_len = 128, lr = 3e-3,
                             warmup = opt.quick and 1 or 30, eval_batches = opt.quick and 2 or 16, seed = 1, label = f.name .. " text", quiet = true }
  local kv = m:kv_cache{ context = base.seq_len }
  local n = archlab.model(config(f.cfg, f.d_ff))
  local nrun = archlab.train{ model = n, data = task, steps = niah_steps, batch_size = bs_niah, seq_len = 128, lr = 3e-3, eval_batches = opt.quick and 1 or nil,
                              seed = 1, label = f.name .. " niah", quiet = true }
  local file = out .. "niah_" .. f.cfg.attention .. ".json"
  local g = n:niah{ data = task, lengths = lengths, depths = depths, trials = trials, json = file }
  local short, all = 0, 0
  for j = 1, #depths do
    short = short + g.recall[j][1] / #depths
    for i = 1, #lengths do all = all + g.recall[j][i] / (#depths * #lengths) end
  end
  local r = { name = f.name, params = m:params().total, d_ff = f.d_ff, val_loss = run.val_loss,
              kv_bytes_per_token = kv.bytes_per_token, formula = kv.formula_bytes_per_token,
              niah_val_loss = nrun.val_loss, recall_128 = short, recall_mean = all, grid = g,
              attention = f.cfg.attention, text_seconds = run.seconds, niah_seconds = nrun.seconds,
              loss_series = E.series(run, "loss") }
  results[#results + 1] = r
  print(string.format("%-22s params %d (d_ff %d)  val loss %.4f  KV %6.0f B/token (formula %6.0f)  NIAH recall %.2f at 128, %.2f over the grid (chance %.4f)",
                      r.name, r.params, r.d_ff, r.val_loss, r.kv_bytes_per_token, r.formula, r.recall_128, r.recall_mean, g.chance))
  local ylab = {}
  for j, d in ipairs(depths) do ylab[j] = string.format("%d%%", math.floor(d * 100 + 0.5)) end
  local xlab = {}
  for i, l in ipairs(lengths) do xlab[i] = tostring(l) end
  archlab.plot.heatmap{ file = out .. "niah_" .. f.cfg.attention .. ".png", title = "NIAH recall: " .. f.name,
                        xlabel = "context length", ylabel = "needle depth", x_labels = xlab, y_labels = ylab,
                        cbar_label = "recall (exact match)",
                        values = g.recall, colormap = "niah", vmin = 0, vmax = 1, labels = true }
  r.heat = { kind = "heatmap", title = f.name, xlabel = "context length (tokens)", ylabel = "needle depth",
             x_labels = xlab, y_labels = ylab, values = g.recall, colormap = "niah", vmin = 0, vmax = 1, labels = true,
             cbar_label = "recall" }
end

-- needle in a haystack: every family's grid in one figure
local heats = {}
for i, r in ipairs(results) do heats[i] = r.heat end
archlab.plot.panels{ file = out .. "niah.png", cols = 2, width = 900, height = 720,
                     title = string.format("needle-in-a-haystack recall (trained at length 128, %d trials per cell; chance %.3f)",
                                           trials, results[1].grid.chance),
                     plots = heats }
-- the trade-off: KV bytes per token against validation loss and against NIAH recall, one marker per family
local s_loss, s_recall, s_short = {}, {}, {}
for i, r in ipairs(results) do
  s_loss[i] = { name = r.name, x = { r.kv_bytes_per_token }, y = { r.val_loss }, marker = true }
  s_recall[i] = { name = r.name, x = { r.kv_bytes_per_token }, y = { r.recall_mean }, marker = true }
end
archlab.plot.panels{ file = out .. "tradeoff.png", cols = 2, width = 900, height = 400,
                     title = string.format("KV cache against quality at matched parameters (~%d)", target),
                     plots = {
                       { kind = "lines", title = "validation loss (text)", xlabel = "KV cache bytes per token (fp32)",
                         ylabel = "loss (nats/byte)", log_x = true, series = s_loss },
                       { kind = "lines", title = "NIAH recall, mean over the grid", xlabel = "KV cache bytes per token (fp32)",
                         ylabel = "recall", log_x = true, ylim = { 0, 1.05 }, series = s_recall },
                     } }

local fh = assert(io.open(out .. "kv_tradeoff.json", "w"))
fh:write("[\n")
for i, r in ipairs(results) do
  fh:write(string.format('  {"model": "%s", "params": %d, "d_ff": %d, "val_loss": %.6f, "kv_bytes_per_token": %.1f, "kv_formula_bytes_per_token": %.1f, "niah_recall_128": %.4f, "niah_recall_mean": %.4f}%s\n',
                         r.name, r.params, r.d_ff, r.val_loss, r.kv_bytes_per_token, r.formula, r.recall_128, r.recall_mean, i < #results and "," or ""))
end
fh:write("]\n")
fh:close()
print("written: " .. out .. "kv_tradeoff.json, niah_<attention>.json/.png, niah.png, tradeoff.png")
local recs = {}
for i, r in ipairs(results) do
  recs[i] = { name = r.name, attention = r.attention, params = r.params, d_ff = r.d_ff, val_loss = r.val_loss,
              kv_bytes_per_token = r.kv_bytes_per_token, kv_formula_bytes_per_token = r.formula,
              niah_val_loss = r.niah_val_loss, recall_128 = r.recall_128, recall_mean = r.recall_mean,
              recall = r.grid.recall, chance = r.grid.chance, text_seconds = r.text_seconds,
              niah_seconds = r.niah_seconds, loss_series = r.loss_series }
end
E.finish(opt, { scale = { d_model = base.d_model, n_layers = base.n_layers, n_heads = base.n_heads, text_steps = text_steps,
                          niah_steps = niah_steps, trials = trials, batch_text = bs_text, batch_niah = bs_niah, train_len = 128,
                          lengths = lengths, depths = depths, target_params = target },
                models = recs, figures = { "tradeoff.png", "niah.png" } })
