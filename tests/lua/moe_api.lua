-- the MoE Lua API end to end (tests/test_moe.c runs it): expert_load, active_params, moe_params, recorded series
local m = archlab.model{ preset = "tiny", ffn = "moe", n_routed_experts = 4, num_experts_per_tok = 2,
                         n_shared_experts = 1, moe_intermediate_size = 16, first_k_dense_replace = 1,
                         balance = "aux_free" }
local p = m:moe_params()
-- tiny: d_model 64, 2 blocks; block 1 is MoE: routed 4 x 3 x 64 x 16, top-2 of 4 active
assert(p.routed_experts == 4 * 3 * 64 * 16, "routed")
assert(p.shared_experts == 3 * 64 * 16 and p.router == 4 * 64 and p.router_bias == 4, "shared/router")
assert(m:active_params() == p.total - 2 * 3 * 64 * 16, "active")
local d = archlab.data.copy{ alphabet = 8 }
local run = archlab.train{ model = m, data = d, steps = 4, log_every = 2, quiet = true }
local s = run:series("layer3.maxvio")
assert(#s.y == 2, "maxvio recorded at each log")
assert(#run:series("layer3.load_e3").y == 2)
local el = m:expert_load()
assert(el.experts == 4 and #el.layers == 1 and el.layers[1] == 3)
local sum = 0
for e = 1, 4 do sum = sum + el.counts[1][e] end
assert(sum == 8 * 64 * 2, "last batch: every token's 2 assignments")
local v = m:expert_load{ data = d, batches = 3, batch_size = 2 }
assert(v.tokens[1] == 3 * 2 * 64 * 2, "validation: accumulated over 3 batches")
assert(v.maxvio[1] >= 0 and v.maxvio_max == v.maxvio[1])
local ok, err = pcall(m.expert_load, m, { data = d, batchez = 2 })
assert(not ok and err:find("batchez"), err)
assert(#archlab.model{ preset = "tiny" }:expert_load().layers == 0)
-- norm_topk_prob is a 0/1 flag (a boolean in Hugging Face configs): true / false work as 1 / 0
assert(archlab.model{ preset = "tiny", ffn = "moe", norm_topk_prob = true }:config().norm_topk_prob == 1)
assert(archlab.model{ preset = "tiny", ffn = "moe", norm_topk_prob = false }:config().norm_topk_prob == 0)
assert(archlab.model{ preset = "tiny", ffn = "moe", norm_topk_prob = 1 }:config().norm_topk_prob == 1)
ok, err = pcall(archlab.model, { preset = "tiny", n_layers = true })
assert(not ok and err:find("n_layers"), err) -- other integers still want numbers
print("moe api ok")
