-- make bench, section mpi (tools/bench_mpi.sh runs this under mpirun -np R): one measurement per launch,
-- appended to out/bench_mpi.jsonl by rank 0. Usage: bench_mpi.lua KIND [M]
--   dp: training tokens/s of the small preset on a global batch of 16 x 128 (data parallel over R ranks)
--   ep: an MoE model with expert_parallel = R, routed experts grouped by rank, each token's experts on at most
--       M ranks (device-limited routing, M = topk_group; 0: unlimited): tokens/s and the dispatch traffic
local kind, M = arg[1], tonumber(arg[2]) or 0
local R = archlab.size()
local cfg, steps = { preset = "small" }, 12
if kind == "ep" then
  cfg = { preset = "small", ffn = "moe", n_routed_experts = 16, num_experts_per_tok = 4, n_shared_experts = 1,
          moe_intermediate_size = 88, scoring_func = "sigmoid", balance = "aux_free", expert_parallel = R }
  if M > 0 then cfg.n_group, cfg.topk_group = R, M end
end
local m = archlab.model(cfg)
local r = archlab.train{ model = m, data = archlab.data.text(), steps = steps, batch_size = 16, seq_len = 128,
                         log_every = 1, record_every = 1, quiet = true, eval_batches = 1 }
-- tokens/s over the steps after the first two (warm-up), from the per-step records
local tps = r:series("tokens_per_s")
local rec = { kind = kind, ranks = R, limit_m = M, tokens_per_s = tps.y[#tps.y], params = m:params().total }
if kind == "ep" then
  local b = r:series("layer1.ep_bytes_per_token")
  local k = r:series("layer1.ep_ranks_per_token")
  local sb, sk = 0, 0
  for i = 1, #b.y do sb, sk = sb + b.y[i], sk + k.y[i] end
  rec.bytes_per_token, rec.ranks_per_token = sb / #b.y, sk / #k.y
end
if archlab.rank() == 0 then
  local E = require("archlab.experiment")
  local f = assert(io.open("out/bench_mpi.jsonl", "a"))
  f:write(E.json(rec, false), "\n")
  f:close()
  print(E.json(rec, false))
end
