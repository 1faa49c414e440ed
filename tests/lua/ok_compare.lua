-- archlab.compare (and so `archlab compare`, the same table; tests/test_cli.c runs this): hand-worked values,
-- each column equal to its configuration's own archlab.cost (the numbers `archlab summary` prints), --vary
-- columns equal to the configurations built directly, and the formats carrying the same numbers.
local dir = arg[1] or "/tmp"
local function row(t, q)
  for _, r in ipairs(t.rows) do if r.quantity == q then return r end end
  error("no row " .. q)
end

-- DeepSeek-V2 (60 layers, 128 heads of 128): KV elements per token and layer, by hand: MHA 2 x 128 x 128 = 32768,
-- GQA-8 2 x 8 x 128 = 2048, MQA 2 x 128 = 256, MLA d_c + d_hR = 512 + 64 = 576 (V2 Table 1)
local v2 = archlab.compare{ configs = { "deepseek-v2:attention=mha", "deepseek-v2:attention=gqa:n_kv_heads=8",
                                        "deepseek-v2:attention=mqa", "deepseek-v2" }, contexts = { 4096, 131072 } }
local per_layer = row(v2, "KV cache elements per token and layer").values
assert(per_layer[1] == 32768 and per_layer[2] == 2048 and per_layer[3] == 256 and per_layer[4] == 576)
local per_token = row(v2, "KV cache elements per token").values
assert(per_token[4] == 576 * 60 and per_token[1] == 32768 * 60)
-- bf16 bytes at 128K: 2 bytes x elements x 131072
assert(row(v2, "KV cache at 128K x 1 (bf16)").values[4] == 2 * 576 * 60 * 131072)
-- the difference to the first column: MLA stores (576 - 32768) / 32768 = -98.24%
assert(math.abs(row(v2, "KV cache elements per token").diff_pct[4] - 100 * (576 - 32768) / 32768) < 1e-9)

-- each column is its configuration's own archlab.cost (the summary's numbers)
local names = { "tiny", "small", "deepseek-v2-lite" }
local t = archlab.compare{ configs = names, contexts = { 64 } }
for j, name in ipairs(names) do
  local c = archlab.cost{ preset = name, context = 64 }
  assert(row(t, "total parameters").values[j] == c.total_params, name)
  assert(row(t, "activated parameters").values[j] == c.activated_params, name)
  assert(row(t, "forward FLOPs per token at 64").values[j] == c.forward_flops_per_token, name)
  assert(row(t, "KV cache elements per token").values[j] == c.kv_elements_per_token, name)
  assert(row(t, "activations per token at 64 (fp32)").values[j] == c.activation_bytes / 64, name)
  assert(row(t, "training state, fp32 (weights, gradients, AdamW: 16 B/param)").values[j] == 16 * c.total_params)
end

-- vary: each column equals the configuration built directly, for keys of every kind family
local cases = {
  { base = "tiny", key = "attention", values = { "mha", "mqa" } },
  { base = "tiny", key = "n_kv_heads", values = { 1, 2 }, extra = { attention = "gqa" } },
  { base = "tiny:attention=mla", key = "kv_lora_rank", values = { 8, 32 } },
  { base = "tiny:attention=mla:kv_lora_rank=16", key = "qk_rope_head_dim", values = { 4, 8 } },
  { base = "tiny", key = "ffn", values = { "dense", "moe" } },
  { base = "tiny:ffn=moe", key = "n_routed_experts", values = { 4, 16 } },
  { base = "tiny:ffn=moe", key = "num_experts_per_tok", values = { 1, 3 } },
  { base = "tiny:ffn=moe", key = "n_shared_experts", values = { 0, 2 } },
  { base = "tiny", key = "residual", values = { "residual", "hc", "mhc" } },
  { base = "tiny:residual=mhc", key = "streams", values = { 2, 8 } },
  { base = "tiny", key = "d_model", values = { 32, 128 } },
  { base = "tiny", key = "n_layers", values = { 1, 6 } },
  { base = "tiny", key = "vocab_size", values = { 128, 512 } },
  { base = "tiny", key = "n_heads", values = { 2, 8 } },
  { base = "tiny", key = "head_dim", values = { 8, 32 } },
  { base = "tiny", key = "d_ff", values = { 128, 256 } },
  { base = "tiny:attention=mla:kv_lora_rank=16", key = "q_lora_rank", values = { 0, 32 } },
  { base = "tiny:attention=mla:kv_lora_rank=16", key = "qk_nope_head_dim", values = { 8, 16 } },
  { base = "tiny:attention=mla:kv_lora_rank=16", key = "v_head_dim", values = { 8, 32 } },
  { base = "tiny:ffn=moe", key = "first_k_dense_replace", values = { 0, 1 } },
  { base = "tiny:ffn=moe", key = "moe_intermediate_size", values = { 16, 32 } },
  { base = "tiny:residual=hc", key = "hc_dynamic", values = { true, false } },
  { base = "tiny:residual=mhc", key = "h_res", values = { true, false } },
}
local checked = 0
for _, case in ipairs(cases) do
  local base = case.base
  for k, v in pairs(case.extra or {}) do base = base .. ":" .. k .. "=" .. tostring(v) end
  local res = archlab.compare{ configs = { base }, vary = { [case.key] = case.values }, contexts = { 32 } }
  assert(#res.configs == #case.values, case.key)
  for j, v in ipairs(case.values) do
    local cfg = { preset = "tiny", [case.key] = v }
    for part in (base .. ":"):gmatch("([^:]*):") do
      local k, x = part:match("^(.-)=(.*)$")
      if k then cfg[k] = tonumber(x) or x end
    end
    cfg.context = 32
    local c = archlab.cost(cfg)
    assert(row(res, "total parameters").values[j] == c.total_params, case.key .. "=" .. tostring(v))
    assert(row(res, "KV cache elements per token").values[j] == c.kv_elements_per_token, case.key)
    assert(res.configs[j] == case.key .. "=" .. tostring(v), res.configs[j])
    checked = checked + 1
  end
end
-- two keys: every combination, the first key (alphabetical) slowest
local g = archlab.compare{ configs = { "tiny" }, vary = { n_layers = { 1, 2 }, attention = { "mha", "mqa" } }, contexts = { 32 } }
assert(#g.configs == 4 and g.configs[1] == "attention=mha n_layers=1" and g.configs[2] == "attention=mha n_layers=2"
       and g.configs[3] == "attention=mqa n_layers=1", table.concat(g.configs, "; "))

-- memory: tiny's bf16 weights are 2 x 139584 bytes; its KV cache 2 x 256 bytes per token: in 1e6 bytes,
-- floor((1e6 - 279168) / 512) = 1407 tokens
local mem = archlab.compare{ configs = { "tiny" }, memory = 1e6, contexts = { 64 } }
assert(mem.rows[#mem.rows].quantity ~= nil)
local fit
for _, r in ipairs(mem.rows) do if r.quantity:find("^longest context") then fit = r end end
assert(fit and fit.values[1] == 1407, fit and fit.values[1])

-- the formats carry the same numbers: CSV exactly, JSON through a file
local csv_total = t.csv:match('\n"total parameters",params,([^,\n]+)')
assert(tonumber(csv_total) == row(t, "total parameters").values[1])
local f = assert(io.open(dir .. "/compare.json", "w")) f:write(t.json) f:close()
local j = archlab.read_json(dir .. "/compare.json")
assert(#j.configs == 3 and j.rows[1].values[2] == row(t, "total parameters").values[2])
assert(t.markdown:find("| quantity", 1, true) and t.text:find("total parameters", 1, true))
-- a context beyond a model's seq_len is not counted (NaN; "-" in the text)
local beyond = archlab.compare{ configs = { "tiny", "small" }, contexts = { 128 } }
local fl = row(beyond, "forward FLOPs per token at 128").values
assert(fl[1] ~= fl[1] and fl[2] > 0, "tiny's seq_len is 64")

-- FLOPs by part add up to the forward FLOPs (attention, FFN, residual connections, output head), and the
-- figures come from the same rows
local parts = archlab.compare{ configs = { "tiny", "tiny:residual=mhc", "tiny:ffn=moe", "tiny:attention=mla:kv_lora_rank=16" },
                               contexts = { 64 }, figures = dir .. "/compare_figs" }
for j = 1, 4 do
  local sum = 0
  for _, p in ipairs{ "attention", "FFN", "residual connections", "output head" } do
    sum = sum + row(parts, "  of which " .. p .. " (at 64)").values[j]
  end
  local total = row(parts, "forward FLOPs per token at 64").values[j]
  assert(math.abs(sum - total) <= 1e-12 * total, string.format("config %d: parts %g, total %g", j, sum, total))
end
-- the output head is 2 x d_model x vocab = 2 x 64 x 256 FLOPs per token (hand), the same for all four
assert(row(parts, "  of which output head (at 64)").values[3] == 2 * 64 * 256)
-- the plain residual's additions: 2 x d_model per sub-layer x 4 sub-layers = 512; mHC's mixing costs more
assert(row(parts, "  of which residual connections (at 64)").values[1] == 2 * 64 * 4)
assert(row(parts, "  of which residual connections (at 64)").values[2] > 512)
assert(#parts.figures == 3)
for _, f in ipairs(parts.figures) do
  local h = assert(io.open(f, "rb"), f)
  assert(h:read(8) == "\137PNG\r\n\26\n", f) h:close()
end

-- measured on this machine: tiny is built, trained and decoded (its numbers are timings, so only their
-- presence and a lower bound by hand are checked: weights, gradients and AdamW's two moments in fp32 are
-- 16 bytes per parameter before any activation); DeepSeek-V3 is too large here and says so in its cell
local meas = archlab.compare{ configs = { "tiny", "deepseek-v3" }, contexts = { 64 }, measure = true }
local tps = row(meas, "measured: training tokens/s (1 x up to 128)")
assert(tps.values[1] > 0 and tps.values[2] ~= tps.values[2])
assert(row(meas, "measured: decode tokens/s after 64 tokens").values[1] > 0)
assert(row(meas, "measured: memory allocated for training").values[1] >= 16 * 139584)
assert(meas.text:find("too large here: needs", 1, true), "deepseek-v3's cell")

-- errors
local function fails(fn, want)
  local ok, err = pcall(fn)
  assert(not ok and tostring(err):find(want, 1, true), tostring(err))
end
fails(function() archlab.compare{ configs = { "tiny" }, vary = { atention = { "mha" } } } end, "did you mean 'attention'")
fails(function() archlab.compare{ configs = { "tiny" }, vary = { n_heads = { "x" } } } end, "'n_heads' = 'x' is not a number")
fails(function() archlab.compare{ configs = { "tiny", "small" }, vary = { n_layers = { 1 } } } end, "varies one configuration")
fails(function() archlab.compare{ configs = { "tinny" } } end, "no preset named 'tinny'")
fails(function() archlab.compare{ configs = { "tiny:kv_lora_rank=16" } } end, "has no effect")
fails(function() archlab.compare{ configs = { "tiny" }, contexts = { 0 } } end, "contexts[1]' must be a length")
print(string.format("compare ok: %d vary columns checked", checked))
