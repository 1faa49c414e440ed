-- Multi-rank tests (tests/test_mpi.c): trains CONFIG for STEPS steps on a global batch of 12 sequences and prints
-- "step loss" per step and the final validation loss with 9 digits; run alone and under mpirun -np R, the
-- series must agree. Usage: series.lua CONFIG [STEPS] [checkpoint=DIR] [stop_at=N] [resume=DIR]
local configs = {
  dense = { preset = "tiny" },
  mixed = { preset = "tiny", attention = "mla", kv_lora_rank = 16, residual = "mhc", ffn = "moe", n_routed_experts = 4,
            num_experts_per_tok = 2, scoring_func = "sigmoid", balance = "aux_free", mtp_depth = 1 },
  ep2 = { preset = "tiny", ffn = "moe", n_routed_experts = 8, num_experts_per_tok = 2, n_shared_experts = 1,
          scoring_func = "sigmoid", balance = "aux_free", expert_parallel = 2 },
}
local name, steps = arg[1], tonumber(arg[2]) or 6
local opts = { steps = steps, batch_size = 12, seq_len = 32, lr = 3e-3, log_every = 1, quiet = true, eval_batches = 2 }
for i = 3, #arg do
  local k, v = arg[i]:match("^([%w_]+)=(.*)$")
  opts[k] = tonumber(v) or v
end
local m = archlab.model(configs[name])
opts.model, opts.data = m, archlab.data.text()
local r = archlab.train(opts)
local s = r:series("loss")
for i = 1, #s.y do print(string.format("step %d %.9g", s.x[i], s.y[i])) end
print(string.format("val %.9g", r.val_loss))
print(string.format("ranks %d", archlab.size()))
