-- One step's loss and gradients of a model with expert_parallel = EP on a fixed batch of 4 sequences, written to
-- FILE (tests/test_mpi.c): under mpirun -np EP each rank takes 2 sequences and computes its experts' share,
-- and the file must match the single process's. Usage: grads.lua EP FILE
local ep, file = tonumber(arg[1]), arg[2]
local m = archlab.model{ vocab_size = 32, d_model = 16, n_layers = 2, n_heads = 2, d_ff = 32, seq_len = 8,
                         ffn = "moe", n_routed_experts = 4, num_experts_per_tok = 2, n_shared_experts = 1,
                         scoring_func = "sigmoid", norm_topk_prob = 1, balance = "aux", aux_alpha = 0.1,
                         expert_parallel = ep }
m:perturb{ std = 0.05, seed = 3 }
local tokens, targets = {}, {}
for b = 1, 4 do
  tokens[b], targets[b] = {}, {}
  for t = 1, 8 do tokens[b][t] = (b * 7 + t * 3) % 32; targets[b][t] = (b * 5 + t * 11) % 32 end
end
print(string.format("loss %.9g", m:dump_grads{ tokens = tokens, targets = targets, file = file }))
