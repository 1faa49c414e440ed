-- The archlab half of `make crosscheck` (tools/crosscheck.sh): for every config of the grid, a tiny model
-- with its parameters perturbed away from their init, its weights (model:save) and one batch's logits,
-- loss and gradients (model:dump_grads) in DIR; DIR/manifest.txt lists the configs, one per line.
-- Usage: bin/archlab tests/reference/crosscheck.lua DIR [NAME_FILTER]
local dir = arg[1] or error("usage: bin/archlab tests/reference/crosscheck.lua DIR [NAME_FILTER]")
local filter = arg[2]

local base = { vocab_size = 64, d_model = 32, n_layers = 2, n_heads = 4, head_dim = 8, d_ff = 64, seq_len = 16,
               seed = 3 }

local residuals = {
  { "res", { residual = "residual" } },
  { "hc", { residual = "hc", streams = 4, hc_dynamic = true, gate_init = 0.3 } },
  { "hcstatic", { residual = "hc", streams = 3, hc_dynamic = false } },
  { "mhc", { residual = "mhc", streams = 4, hc_dynamic = true, gate_init = 0.3, sinkhorn_iters = 20 } },
  { "mhcstatic", { residual = "mhc", streams = 3, hc_dynamic = false, sinkhorn_iters = 7 } },
}
local attentions = {
  { "mha", { attention = "mha" } },
  { "gqa", { attention = "gqa", n_kv_heads = 2 } },
  { "mqa", { attention = "mqa", n_kv_heads = 1 } },
  { "mla", { attention = "mla", kv_lora_rank = 16, qk_nope_head_dim = 8, qk_rope_head_dim = 4, v_head_dim = 6 } },
  { "mlaq", { attention = "mla", kv_lora_rank = 12, q_lora_rank = 16, qk_nope_head_dim = 6, qk_rope_head_dim = 8,
              v_head_dim = 8 } },
}
local ffns = {
  { "dense", { ffn = "dense" } },
  -- V2: softmax scores, top-K without renormalization, shared experts, group-limited routing (max score per
  -- group), expert- and device-level balance losses (coefficients raised so their gradients are visible)
  { "moe_softmax", { ffn = "moe", n_routed_experts = 8, n_shared_experts = 1, num_experts_per_tok = 2,
                     moe_intermediate_size = 16, scoring_func = "softmax", n_group = 4, topk_group = 2,
                     balance = "aux", aux_alpha = 0.1, device_alpha = 0.05 } },
  -- V3: sigmoid scores, correction bias in the selection only, renormalized x 2.5, top-2-sum group
  -- selection on the biased scores, the sequence-wise loss; block 0 keeps the dense FFN
  { "moe_sigmoid", { ffn = "moe", n_routed_experts = 8, n_shared_experts = 0, num_experts_per_tok = 3,
                     moe_intermediate_size = 16, scoring_func = "sigmoid", norm_topk_prob = 1,
                     routed_scaling_factor = 2.5, n_group = 2, topk_group = 1, balance = "aux_free",
                     seq_alpha = 0.1, first_k_dense_replace = 1 } },
}

-- one batch: B = 2 sequences of T = 16 tokens (the model's seq_len); two targets are -1 (not counted)
local B, T = 2, base.seq_len
local rng_state = 12345
local function rand(n) -- a small LCG, so the batch does not depend on Lua's math.random
  rng_state = (rng_state * 1103515245 + 12345) % 2147483648
  return rng_state % n
end
-- B sequences of T tokens, each target the next token (the last one drawn)
local function make_batch(T)
  local tokens, targets = {}, {}
  for b = 1, B do
    tokens[b], targets[b] = {}, {}
    for t = 1, T do tokens[b][t] = rand(base.vocab_size) end
    for t = 1, T do targets[b][t] = t < T and tokens[b][t + 1] or rand(base.vocab_size) end
  end
  return tokens, targets
end
local tokens, targets = make_batch(T)
targets[1][5] = -1
targets[2][T] = -1

-- a longer batch (T = 80) for the configs that cross archlab's attention query blocks (32 rows: 32 + 32 + 16)
local long_T = 80
local long_tokens, long_targets = make_batch(long_T)
long_targets[2][40] = -1

-- beyond the grid: the mHC paper's component ablation (a disabled mapping is 1/n, 1 or I), one stream
-- (mHC reduces to the residual), a batch shorter than seq_len, and batches longer than one attention block
local extras = {
  { "mhc-abl-nopre-nores", { residual = "mhc", streams = 4, gate_init = 0.3, h_pre = false, h_res = false } },
  { "hc-abl-nopost", { residual = "hc", streams = 2, gate_init = 0.3, h_post = false, attention = "gqa", n_kv_heads = 2 } },
  { "mhc-n1", { residual = "mhc", streams = 1, gate_init = 0.3 } },
  { "hc-mla-moe-shortT", { residual = "hc", streams = 4, gate_init = 0.3, seq_len = 24 }, { a = 4, f = 2 } },
  { "res-gqa-longT", { seq_len = long_T }, { a = 2, f = 1 }, true },
  { "mhc-mla-longT", { residual = "mhc", streams = 4, gate_init = 0.3, seq_len = long_T }, { a = 4, f = 1 }, true },
}

local manifest = assert(io.open(dir .. "/manifest.txt", "w"))
local count = 0
local function run(name, parts, toks, tgts)
  if filter and not name:find(filter, 1, true) then return end
  local cfg = {}
  for _, part in ipairs(parts) do
    for k, v in pairs(part) do cfg[k] = v end
  end
  local m = archlab.model(cfg)
  m:perturb{ std = 0.05, seed = count + 1 }
  m:save(dir .. "/" .. name .. ".weights.safetensors")
  m:load(dir .. "/" .. name .. ".weights.safetensors") -- exactly the float32 values the reference reads (a no-op
                                                       -- in archlab's float32 build; rounds a float64 build)
  m:dump_grads{ tokens = toks, targets = tgts, file = dir .. "/" .. name .. ".dump.safetensors" }
  manifest:write(name, "\n")
  count = count + 1
end
for _, r in ipairs(residuals) do
  for _, a in ipairs(attentions) do
    for _, f in ipairs(ffns) do
      run(r[1] .. "-" .. a[1] .. "-" .. f[1], { base, r[2], a[2], f[2] }, tokens, targets)
    end
  end
end
for _, e in ipairs(extras) do
  local parts = { base }
  if e[3] then parts[#parts + 1] = attentions[e[3].a][2]; parts[#parts + 1] = ffns[e[3].f][2] end
  parts[#parts + 1] = e[2]
  if e[4] then run(e[1], parts, long_tokens, long_targets) else run(e[1], parts, tokens, targets) end
end
manifest:close()
print(string.format("crosscheck: %d configs dumped to %s", count, dir))
