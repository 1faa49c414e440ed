-- A Hugging Face config.json as a script's preset (tests/test_cli.c runs this): read whole, it gives what the
-- hand-written preset (from the V2 paper's table) gives and the paper's stated sizes; shrunk, it trains.
local json = "tests/fixtures/deepseek-v2-lite-config.json"
local full, paper = archlab.cost{ preset = json, context = 4096 }, archlab.cost{ preset = "deepseek-v2-lite", context = 4096 }
assert(full.total_params == paper.total_params and full.activated_params == paper.activated_params, "json = preset")
assert(full.kv_elements_per_token == paper.kv_elements_per_token and full.attention == "mla")
-- V2-Lite: 15.7B total, 2.4B activated (the paper's rounding)
assert(math.abs(full.total_params / 15.7e9 - 1) < 0.005, full.total_params)
assert(math.abs(full.activated_params / 2.4e9 - 1) < 0.03, full.activated_params)
-- a scaled-down V2-Lite: its architecture (MLA without query compression, 2 shared + top-k routed experts,
-- softmax gates, one leading dense block) at workbench widths
local m = archlab.model{ preset = json, n_layers = 2, d_model = 64, n_heads = 4, vocab_size = 256, seq_len = 64,
                         kv_lora_rank = 16, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16,
                         head_dim = 16, d_ff = 128, moe_intermediate_size = 32, n_routed_experts = 8,
                         num_experts_per_tok = 2 }
local c = m:config()
assert(c.attention == "mla" and c.q_lora_rank == 0 and c.ffn == "moe" and c.n_shared_experts == 2, "kept from the json")
assert(c.first_k_dense_replace == 1 and c.scoring_func == "softmax" and c.balance == "aux" and c.aux_alpha == 0.001)
assert(c.n_layers == 2 and c.d_model == 64 and c.preset == "deepseek-v2-lite-config.json", c.preset)
local d = archlab.data.copy{ alphabet = 8 }
local before = m:evaluate{ data = d, batches = 2 }
local run = archlab.train{ model = m, data = d, steps = 40, lr = 3e-3, quiet = true }
local after = m:evaluate{ data = d, batches = 2 }
assert(after < before - 0.3, string.format("trains: %.3f -> %.3f", before, after))
-- a field the json's kinds do not read is still an error naming them (the json is a preset: its own are fine)
local ok, err = pcall(archlab.model, { preset = json, streams = 4 })
assert(not ok and err:find("streams", 1, true), err)
-- a preset file may name a preset in turn
local f = assert(io.open(arg[1], "w"))
f:write('return { preset = "' .. json .. '", n_layers = 3 }\n')
f:close()
local nested = archlab.cost{ preset = arg[1] }
assert(nested.total_params < full.total_params and nested.attention == "mla")
print(string.format("hf script ok: %.4f -> %.4f", before, after))
