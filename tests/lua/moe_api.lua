-- the MoE Lua API end to end (tests/test_moe.c runs it): expert_load, active_params, moe_params, recorded series
local m = archlab.model{ preset = "tiny", ffn = "moe", n_routed_experts = 4, num_experts_per_tok = 2,
                         n_shared_experts = 1, moe_intermediate_size = 16, first_k_dense_replace = 1,
                         balance = "aux_free" }
local p = m:moe_params()
-- tiny: d_model 64, 2 blocks; block 1 is MoE: routed 4 x 3 x 64 x 16, top-2 of 4 active
assert(p.routed_experts == 4 * 3 * 64 * 16, "routed")
assert(p.shared_experts == 3 * 64 * 16 and p.router == 4 * 64 and p.router_bias == 4, "shared/router")
-- activated (one convention, the summaries'): all but the input embedding (256 x 64, a lookup) and the 2 routed
-- experts of 4 a token is not sent to
assert(m:active_params() == p.total - 256 * 64 - 2 * 3 * 64 * 16, "active")
assert(m:active_params() == m:params().activated and p.active == m:active_params(), "one convention")
local d = archlab.data.copy{ alphabet = 8 }
local run = archlab.train{ model = m, data = d, steps = 4, log_every = 2, quiet = true }
-- layers are numbered by block from 0, as Hugging Face names the parameters: the MoE is model.layers.1.mlp
local s = run:series("layer1.maxvio")
assert(#s.y == 2, "maxvio recorded at each log")
assert(#run:series("layer1.load_e3").y == 2)
assert(not pcall(run.series, run, "layer3.maxvio") and not pcall(run.series, run, "layer0.maxvio"))
local el = m:expert_load()
assert(el.experts == 4 and #el.layers == 1 and el.layers[1] == 1)
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
-- 3 blocks, the first dense: MoE blocks 1 and 2, in expert_load and in the series alike
local m3 = archlab.model{ preset = "tiny", n_layers = 3, ffn = "moe", n_routed_experts = 4, num_experts_per_tok = 2,
                          moe_intermediate_size = 16, first_k_dense_replace = 1 }
local r3 = archlab.train{ model = m3, data = d, steps = 2, log_every = 1, quiet = true }
local l3 = m3:expert_load().layers
assert(#l3 == 2 and l3[1] == 1 and l3[2] == 2, "blocks 1 and 2")
for _, l in ipairs(l3) do assert(#r3:series("layer" .. l .. ".maxvio").y == 2) end
print("moe api ok")
