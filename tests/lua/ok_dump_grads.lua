-- model:perturb + model:dump_grads (tests/reference/, make crosscheck): arg[1] is the output file
local m = archlab.model{ vocab_size = 32, d_model = 16, n_layers = 2, n_heads = 2, d_ff = 32, seq_len = 8,
                         residual = "mhc", streams = 2, ffn = "moe", n_routed_experts = 4, num_experts_per_tok = 2,
                         balance = "aux", aux_alpha = 0.1 }
m:perturb{ std = 0.05, seed = 2 }
print(string.format("loss %.6f", m:dump_grads{ tokens = { { 1, 2, 3, 4, 5, 6, 7, 8 }, { 9, 10, 11, 12, 13, 14, 15, 16 } },
                                              targets = { { 2, 3, 4, 5, 6, 7, 8, -1 }, { 10, 11, 12, 13, 14, 15, 16, 17 } },
                                              file = arg[1] }))
