-- model:summary() and model:params() list one breakdown whose rows add up to the total (tests/test_cli.c)
local configs = {
  { preset = "small" },
  { preset = "tiny", residual = "mhc", attention = "mla", kv_lora_rank = 32, ffn = "moe", n_shared_experts = 1,
    balance = "aux_free" },
  { preset = "tiny", residual = "hc", attention = "gqa", n_kv_heads = 2, ffn = "moe", first_k_dense_replace = 1 },
}
for _, c in ipairs(configs) do
  local m = archlab.model(c)
  local total, activated, rows_t, rows_a = nil, nil, 0, 0
  for name, t, a in m:summary():gmatch("\n  (%S+)%s+([%d,]+)%s+([%d,]+)") do
    t, a = tonumber((t:gsub(",", ""))), tonumber((a:gsub(",", "")))
    if name == "total" then total, activated = t, a
    elseif name ~= "component" then rows_t, rows_a = rows_t + t, rows_a + a end
  end
  assert(total and total == rows_t and activated == rows_a, "summary rows do not add up: " .. m:summary())
  local p, sum = m:params(), 0
  for k, v in pairs(p) do if k ~= "total" and k ~= "activated" then sum = sum + v end end
  assert(sum == p.total and p.total == total and p.activated == activated, "params() does not add up")
end
print("summary rows add up")
