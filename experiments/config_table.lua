-- config_table: every preset counted on paper (nothing allocated): total and activated parameters, KV-cache
-- bytes per token (bf16) of its attention against an MHA model of the same shape, and FLOPs per token.
-- Writes config_table.md, config_table.csv and results.json into DIR (default out/config_table/).
-- Usage: bin/archlab experiments/config_table.lua [context] [quick] [out=DIR]   (quick changes nothing: it
-- allocates nothing and takes well under a second)
local E = require("archlab.experiment")
local opt = E.args("config_table")
local out = opt.out
local context = tonumber(opt.pos[1]) or 4096
local presets = { "tiny", "small", "mhc-3b", "mhc-9b", "mhc-27b", "deepseek-v2-lite", "deepseek-v2", "deepseek-v3" }
local function si(v)
  for _, u in ipairs{ { 1e12, "T" }, { 1e9, "B" }, { 1e6, "M" }, { 1e3, "K" } } do
    if v >= u[1] then return string.format("%.2f%s", v / u[1], u[2]) end
  end
  return string.format("%.0f", v)
end
local md = { string.format("| preset | total params | activated | attention | KV bytes/token (bf16) | MHA same shape | KV saved | FLOPs/token fwd (context %d) |", context),
             "|---|---|---|---|---|---|---|---|" }
local csv = { "preset,total_params,activated_params,attention,kv_bytes_per_token_bf16,mha_kv_bytes_per_token_bf16,forward_flops_per_token,context" }
local recs = {}
for _, name in ipairs(presets) do
  local c = archlab.cost{ preset = name, context = math.min(context, name:match("^tiny") and 64 or name == "small" and 128 or context) }
  local kv, mha = 2 * c.kv_elements_per_token, 2 * c.kv_mha_equivalent_elements_per_token
  md[#md + 1] = string.format("| %s | %s | %s | %s | %s | %s | %.1f%% | %s (context %d) |", name, si(c.total_params), si(c.activated_params),
                              c.attention, si(kv), si(mha), 100 * (1 - kv / mha), si(c.forward_flops_per_token), c.context)
  csv[#csv + 1] = string.format("%s,%.0f,%.0f,%s,%.0f,%.0f,%.6g,%d", name, c.total_params, c.activated_params, c.attention, kv, mha,
                                c.forward_flops_per_token, c.context)
  recs[#recs + 1] = { preset = name, total_params = c.total_params, activated_params = c.activated_params,
                      attention = c.attention, kv_elements_per_token = c.kv_elements_per_token,
                      kv_mha_equivalent_elements_per_token = c.kv_mha_equivalent_elements_per_token,
                      kv_bytes_per_token_bf16 = kv, mha_kv_bytes_per_token_bf16 = mha,
                      forward_flops_per_token = c.forward_flops_per_token, context = c.context }
end
for file, lines in pairs{ [out .. "config_table.md"] = md, [out .. "config_table.csv"] = csv } do
  local f = assert(io.open(file, "w"))
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
end
print(table.concat(md, "\n"))
-- KV cache per token of each preset against an MHA model of the same shape (log scale: they span decades)
local cats, kvv, mhav = {}, {}, {}
for i, r in ipairs(recs) do
  if not r.preset:match("^tiny") and r.preset ~= "small" then
    cats[#cats + 1] = r.preset
    kvv[#kvv + 1] = r.kv_bytes_per_token_bf16 / 1024
    mhav[#mhav + 1] = r.mha_kv_bytes_per_token_bf16 / 1024
  end
end
archlab.plot.bars{ file = out .. "kv_cache.png", width = 760, height = 380, log_y = true,
                   title = "KV cache per token (bf16) of each configuration, counted on paper",
                   ylabel = "KiB per token", categories = cats,
                   groups = { { name = "as configured (MLA)", values = kvv }, { name = "MHA of the same shape", values = mhav } },
                   labels = true }
print("written: " .. out .. "config_table.md, config_table.csv, kv_cache.png")
E.finish(opt, { scale = { context = context, note = "counted on paper (meta mode), nothing allocated" },
                presets = recs, figures = { "kv_cache.png" } })
