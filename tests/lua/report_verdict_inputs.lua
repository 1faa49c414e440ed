-- Makes the inputs of one report-verdict scenario (tests/test_experiments.c): copies the quick-scale
-- results.json of every experiment from SRC/ to DST/ and sets, by hand, the numbers two loss claims are judged
-- on: the lr 0.01 validation losses of mhc_stability's residual / HC / mHC runs, the seed-to-seed noise floor
-- of mhc_ablations and its table-1 gap with all three mappings enabled.
--   bin/archlab tests/lua/report_verdict_inputs.lua SRC/ DST/ RESIDUAL HC MHC NOISE_FLOOR ALL_THREE_GAP
local E = require("archlab.experiment")
local src, dst = arg[1], arg[2]
local residual, hc, mhc, floor, gap = tonumber(arg[3]), tonumber(arg[4]), tonumber(arg[5]), tonumber(arg[6]), tonumber(arg[7])
assert(src and dst and residual and hc and mhc and floor and gap, "usage: SRC/ DST/ RESIDUAL HC MHC NOISE_FLOOR ALL_THREE_GAP")
for _, n in ipairs{ "mhc_stability", "mhc_ablations", "kv_tradeoff", "moe_balance", "moe_granularity", "config_table" } do
  local r = assert(archlab.read_json(src .. n .. "/results.json"))
  if n == "mhc_stability" then
    local set = { ["residual lr=0.01"] = residual, ["hc lr=0.01"] = hc, ["mhc lr=0.01"] = mhc }
    local seen = 0
    for _, run in ipairs(r.runs) do
      if set[run.label] then run.val_loss = set[run.label]; seen = seen + 1 end
    end
    assert(seen == 3, "the quick scale no longer has the three lr 0.01 runs")
  elseif n == "mhc_ablations" then
    r.noise_floor = floor
    r.components[#r.components].gap = gap
  end
  os.execute("mkdir -p '" .. dst .. n .. "'")
  E.write_json(dst .. n .. "/results.json", r)
end
