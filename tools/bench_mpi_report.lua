-- The MPI bench's table, JSON and figure from the records tools/bench_mpi.lua appended (tools/bench_mpi.sh).
local E = require("archlab.experiment")
local f = assert(io.open(arg[1]))
local all = {}
for line in f:lines() do all[#all + 1] = line end
f:close()
local tmp = "out/bench_mpi.json"
local g = assert(io.open(tmp, "w"))
g:write("[" .. table.concat(all, ",\n") .. "]\n")
g:close()
local rs = archlab.read_json(tmp)
local dp1, dp2
local names, bytes, ranks = {}, {}, {}
for _, r in ipairs(rs) do
  if r.kind == "dp" and r.ranks == 1 then dp1 = r end
  if r.kind == "dp" and r.ranks == 2 then dp2 = r end
  if r.kind == "ep" then
    names[#names + 1] = r.limit_m > 0 and string.format("M = %d", r.limit_m) or "unlimited"
    bytes[#bytes + 1] = r.bytes_per_token
    ranks[#ranks + 1] = r.ranks_per_token
    print(string.format("  EP on %d ranks, %-9s  %8.0f tokens/s   dispatch %7.1f bytes/token   %.2f other ranks/token",
                        r.ranks, names[#names], r.tokens_per_s, r.bytes_per_token, r.ranks_per_token))
  end
end
if dp1 and dp2 then
  print(string.format("  DP 1 rank %8.0f tokens/s, 2 ranks %8.0f tokens/s: scaling efficiency %.0f%% (2 ranks on 2 shared cores)",
                      dp1.tokens_per_s, dp2.tokens_per_s, 100 * dp2.tokens_per_s / (2 * dp1.tokens_per_s)))
end
archlab.plot.panels{ file = "out/bench_mpi.png", cols = 2, width = 900, height = 360,
  title = "expert parallelism on 4 ranks: dispatch traffic against device-limited routing",
  plots = {
    { kind = "bars", title = "bytes sent to other ranks per token", ylabel = "bytes", categories = names, values = bytes, labels = true },
    { kind = "bars", title = "other ranks a token's experts are on", ylabel = "ranks", categories = names, values = ranks, labels = true },
  } }
print("written: out/bench_mpi.json, out/bench_mpi.png")
