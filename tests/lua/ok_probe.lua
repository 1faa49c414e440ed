-- Probes (m:inspect, m:probes; tests/test_cli.c runs this). Each captured intermediate is checked against what
-- it must equal, computed here from other captures and the weights: attention probabilities against a causal
-- softmax of the captured q and k, the residual stream against its additions, the logits against the final
-- norm and head applied in Lua; mHC's H_res against doubly stochastic; capture against no capture, bit for bit.
local T = archlab.tensor
local text = "The cat sat."
local function max_abs(a, b) return (a - b):abs():max() end

-- softmax_j<=i (q_i . k_j * scale) for head h (kv head h // group), by loops over the captured tensors
local function check_probs(r, prefix, H, Hkv, dk)
  local q, k, p = r[prefix .. ".q"], r[prefix .. ".k"], r[prefix .. ".probs"]
  local Tn, G, scale, worst, worst_sum = q.shape[2], H // Hkv, 1 / math.sqrt(dk), 0, 0
  for h = 1, H do
    for i = 1, Tn do
      local s, z = {}, 0
      for j = 1, i do
        local dot = 0
        for d = 1, dk do dot = dot + q[{ 1, i, h, d }] * k[{ 1, j, (h - 1) // G + 1, d }] end
        s[j] = math.exp(dot * scale)
        z = z + s[j]
      end
      local row = 0
      for j = 1, Tn do
        local want = j <= i and s[j] / z or 0
        worst = math.max(worst, math.abs(p[{ 1, h, i, j }] - want))
        row = row + p[{ 1, h, i, j }]
      end
      worst_sum = math.max(worst_sum, math.abs(row - 1))
    end
  end
  assert(worst < 1e-5 and worst_sum < 1e-5, string.format("%s: probs off by %g, rows by %g", prefix, worst, worst_sum))
end

-- x / sqrt(mean(x^2) + eps) * w over the last axis, in f64
local function rmsnorm(x, w, eps)
  x = x:astype("f64")
  local C = x.shape[#x.shape]
  local ms = (x * x):mean(-1):reshape(x.shape[1], x.shape[2], 1)
  return x / (ms + eps):sqrt() * w:astype("f64")
end

local families = {
  { name = "mha dense residual", cfg = { preset = "tiny" }, H = 4, Hkv = 4, dk = 16 },
  { name = "gqa moe residual", cfg = { preset = "tiny", attention = "gqa", n_kv_heads = 2, ffn = "moe", n_routed_experts = 4,
                                        num_experts_per_tok = 2 }, H = 4, Hkv = 2, dk = 16 },
  { name = "mla dense mhc", cfg = { preset = "tiny", attention = "mla", kv_lora_rank = 16, qk_nope_head_dim = 16,
                                    qk_rope_head_dim = 8, v_head_dim = 16, residual = "mhc", sinkhorn_iters = 200 },
    H = 4, Hkv = 4, dk = 24 },
  { name = "mha dense hc", cfg = { preset = "tiny", residual = "hc" }, H = 4, Hkv = 4, dk = 16 },
}
local d = archlab.data.copy{ alphabet = 8 }
for _, f in ipairs(families) do
  local m = archlab.model(f.cfg)
  archlab.train{ model = m, data = d, steps = 3, quiet = true } -- weights away from their initialization
  local loss_before = m:evaluate{ data = d, batches = 1 }
  local r = m:inspect{ text = text }
  -- m:probes() lists exactly what a capture of everything returns, with the same shapes
  local listed = m:probes{ text = text }
  local n = 0
  for _ in pairs(r) do n = n + 1 end
  assert(#listed == n, f.name .. ": probes() and inspect{} disagree")
  for _, p in ipairs(listed) do
    local t = assert(r[p.name], f.name .. ": " .. p.name .. " listed but not captured")
    for i, s in ipairs(p.shape) do assert(t.shape[i] == s, p.name) end
  end
  -- attention probabilities: the causal softmax of q.k (q and k as captured: after RoPE)
  for l = 0, 1 do check_probs(r, "layer" .. l .. ".attn", f.H, f.Hkv, f.dk) end
  local streams = f.cfg.residual == "mhc" or f.cfg.residual == "hc"
  if not streams then
    -- the residual stream: x + F(x) at each sub-layer, exactly (the same float32 additions)
    for l = 0, 1 do
      local p = "layer" .. l
      assert(max_abs(r[p .. ".ffn.in"], r[p .. ".attn.in"] + r[p .. ".attn.out"]) == 0, f.name .. " attn residual")
      assert(max_abs(r[p .. ".hidden"], r[p .. ".ffn.in"] + r[p .. ".ffn.out"]) == 0, f.name .. " ffn residual")
      if l == 1 then assert(max_abs(r["layer1.attn.in"], r["layer0.hidden"]) == 0) end
    end
    assert(max_abs(r["layer0.attn.in"], r.embed) == 0)
  else
    -- n streams; H_res per token: mHC's doubly stochastic (t_max = 200: both sums within 1e-4), HC's not
    local h = r["layer1.ffn.hres"]
    local col, row = (h:sum(3) - 1):abs():max(), (h:sum(4) - 1):abs():max()
    if f.cfg.residual == "mhc" then assert(col < 1e-4 and row < 1e-4 and h:min() >= 0, string.format("mhc: %g %g", col, row)) end
    assert(r["layer1.hidden"].shape[3] == 4)
  end
  -- the logits from the last hidden state, through the final norm and the head computed here
  local last = r["layer1.hidden"]
  if streams then last = last:sum(3) end -- the streams' sum is the output
  local fn = rmsnorm(last, m:param("model.norm.weight"), 1e-6)
  assert(max_abs(fn, r.final_norm) < 1e-4 * r.final_norm:abs():max(), f.name .. " final norm")
  local logits = fn[1]:matmul(m:param("lm_head.weight"):astype("f64"):T())
  assert(max_abs(logits, r.logits[1]) < 1e-4 * r.logits:abs():max(), f.name .. " logits")
  -- capture changes nothing: the logits alone equal the logits among everything, and the model's loss is unchanged
  local only = m:inspect{ text = text, capture = { "logits" } }
  assert(max_abs(only.logits, r.logits) == 0 and only["layer0.attn.q"] == nil, f.name .. " capture changed the logits")
  assert(m:evaluate{ data = d, batches = 1 } == loss_before, f.name .. " inspect changed the model")
  print(string.format("%s: %d probes checked", f.name, n))
end

-- MoE routing: chosen experts are the top-k of the scores (ids from 0), gates renormalized or scaled as configured
local m = archlab.model{ preset = "tiny", ffn = "moe", n_routed_experts = 4, num_experts_per_tok = 2, norm_topk_prob = 1 }
local r = m:inspect{ tokens = { { 1, 2, 3 }, { 4, 5, 6 } }, capture = { "layer0.ffn.router.*" } }
local s, e, g = r["layer0.ffn.router.scores"], r["layer0.ffn.router.experts"], r["layer0.ffn.router.gates"]
assert(s.shape[1] == 2 and s.shape[2] == 3 and e.shape[3] == 2)
for b = 1, 2 do
  for t = 1, 3 do
    local e1, e2 = e[{ b, t, 1 }] + 1, e[{ b, t, 2 }] + 1
    assert(e1 ~= e2)
    for x = 1, 4 do
      if x ~= e1 and x ~= e2 then assert(s[{ b, t, x }] <= math.min(s[{ b, t, e1 }], s[{ b, t, e2 }])) end
    end
    assert(math.abs(g[{ b, t, 1 }] + g[{ b, t, 2 }] - 1) < 1e-6, "norm_topk_prob: gates sum to 1")
  end
end

-- errors
local function fails(fn, want)
  local ok, err = pcall(fn)
  assert(not ok and tostring(err):find(want, 1, true), tostring(err))
end
fails(function() m:inspect{ text = text, capture = { "layer0.attn.prob" } } end, "did you mean 'layer0.attn.probs'")
fails(function() m:inspect{ tokens = { 1, 999 } } end, "entry 2 of sequence 1 is not a token id in [0, 256)")
fails(function() m:inspect{ tokens = { { 1, 2 }, { 3 } } } end, "tokens[2]' must be a list of 2 ids")
fails(function() m:inspect{ text = string.rep("x", 65) } end, "65 tokens is longer than seq_len = 64")
fails(function() m:inspect{ text = "a", tokens = { 1 } } end, "give text or tokens, not both")
fails(function() m:inspect{ capture = { "logits" } } end, "give the tokens to run")
fails(function() m:inspect{ text = "a", captur = { "logits" } } end, "did you mean 'capture'")
print("probes ok")
