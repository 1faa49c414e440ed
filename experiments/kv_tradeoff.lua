-- kv_tradeoff: MHA, GQA, MQA and MLA models of matched parameter count, trained on the same data, compared on
--   validation loss (byte-level text, Debian's fortunes), KV-cache bytes per token (measured from what the
--   attention layers allocate, beside DeepSeek-V2 Table 1's formula) and needle-in-a-haystack recall
--   (a copy of each model trained on the synthetic NIAH task, evaluated on lengths x depths up to 2048).
-- Usage: bin/archlab experiments/kv_tradeoff.lua [text_steps] [niah_steps] [trials] [quick]
-- Parameter counts are matched by widening/narrowing each model's SwiGLU d_ff to the MHA model's total.
io.stdout:setvbuf("line") -- one result line per model as it finishes
local text_steps = tonumber(arg[1]) or 300
local niah_steps = tonumber(arg[2]) or 300
local trials = tonumber(arg[3]) or 8

local base = { vocab_size = 256, d_model = 128, n_layers = 4, n_heads = 8, d_ff = 352, seq_len = 2048, seed = 1 }
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
if arg[4] == "quick" then lengths, depths = { 128, 256 }, { 0, 1 } end -- the smoke test of make test
local results = {}
for _, f in ipairs(families) do
  local m = archlab.model(config(f.cfg, f.d_ff))
  local run = archlab.train{ model = m, data = text, steps = text_steps, batch_size = 16, seq_len = 128, lr = 3e-3,
                             warmup = 30, eval_batches = 16, seed = 1, label = f.name .. " text", quiet = true }
  local kv = m:kv_cache{ context = 2048 }
  local n = archlab.model(config(f.cfg, f.d_ff))
  local nrun = archlab.train{ model = n, data = task, steps = niah_steps, batch_size = 32, seq_len = 128, lr = 3e-3,
                              seed = 1, label = f.name .. " niah", quiet = true }
  local file = "out/kv_tradeoff_niah_" .. f.cfg.attention .. ".json"
  local g = n:niah{ data = task, lengths = lengths, depths = depths, trials = trials, json = file }
  local short, all = 0, 0
  for j = 1, #depths do
    short = short + g.recall[j][1] / #depths
    for i = 1, #lengths do all = all + g.recall[j][i] / (#depths * #lengths) end
  end
  local r = { name = f.name, params = m:params().total, d_ff = f.d_ff, val_loss = run.val_loss,
              kv_bytes_per_token = kv.bytes_per_token, formula = kv.formula_bytes_per_token,
              niah_val_loss = nrun.val_loss, recall_128 = short, recall_mean = all, grid = g }
  results[#results + 1] = r
  print(string.format("%-22s params %d (d_ff %d)  val loss %.4f  KV %6.0f B/token (formula %6.0f)  NIAH recall %.2f at 128, %.2f over the grid (chance %.4f)",
                      r.name, r.params, r.d_ff, r.val_loss, r.kv_bytes_per_token, r.formula, r.recall_128, r.recall_mean, g.chance))
  local ylab = {}
  for j, d in ipairs(depths) do ylab[j] = string.format("%d%%", math.floor(d * 100 + 0.5)) end
  local xlab = {}
  for i, l in ipairs(lengths) do xlab[i] = tostring(l) end
  archlab.plot.heatmap{ file = "out/kv_tradeoff_niah_" .. f.cfg.attention .. ".png", title = "NIAH recall: " .. f.name,
                        xlabel = "context length", ylabel = "needle depth", x_labels = xlab, y_labels = ylab,
                        values = g.recall, colormap = "niah", vmin = 0, vmax = 1, labels = true }
end

local fh = assert(io.open("out/kv_tradeoff.json", "w"))
fh:write("[\n")
for i, r in ipairs(results) do
  fh:write(string.format('  {"model": "%s", "params": %d, "d_ff": %d, "val_loss": %.6f, "kv_bytes_per_token": %.1f, "kv_formula_bytes_per_token": %.1f, "niah_recall_128": %.4f, "niah_recall_mean": %.4f}%s\n',
                         r.name, r.params, r.d_ff, r.val_loss, r.kv_bytes_per_token, r.formula, r.recall_128, r.recall_mean, i < #results and "," or ""))
end
fh:write("]\n")
fh:close()
print("written: out/kv_tradeoff.json, out/kv_tradeoff_niah_<attention>.json/.png")
