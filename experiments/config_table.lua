-- config_table: every preset counted on paper (nothing allocated): total and activated parameters, KV-cache
-- bytes per token (bf16) of its attention against an MHA model of the same shape, and FLOPs per token.
-- Writes out/config_table.md and out/config_table.csv. Usage: bin/archlab experiments/config_table.lua [context]
local context = tonumber(arg[1]) or 4096
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
for _, name in ipairs(presets) do
  local c = archlab.cost{ preset = name, context = math.min(context, name:match("^tiny") and 64 or name == "small" and 128 or context) }
  local kv, mha = 2 * c.kv_elements_per_token, 2 * c.kv_mha_equivalent_elements_per_token
  md[#md + 1] = string.format("| %s | %s | %s | %s | %s | %s | %.1f%% | %s (context %d) |", name, si(c.total_params), si(c.activated_params),
                              c.attention, si(kv), si(mha), 100 * (1 - kv / mha), si(c.forward_flops_per_token), c.context)
  csv[#csv + 1] = string.format("%s,%.0f,%.0f,%s,%.0f,%.0f,%.6g,%d", name, c.total_params, c.activated_params, c.attention, kv, mha,
                                c.forward_flops_per_token, c.context)
end
os.execute("mkdir -p out")
for file, lines in pairs{ ["out/config_table.md"] = md, ["out/config_table.csv"] = csv } do
  local f = assert(io.open(file, "w"))
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
end
print(table.concat(md, "\n"))
print("written: out/config_table.md, out/config_table.csv")
