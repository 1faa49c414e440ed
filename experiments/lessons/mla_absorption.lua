-- Lesson: what MLA's absorption trick saves when decoding. MLA caches one latent c (d_c numbers) and a shared
-- rotary key (d_hR) per token. Decoding naively rebuilds every head's keys and values from every cached latent at
-- every step; absorbed, the up-projections are folded into the query and the output (V2 sec. 2.1.3), so
-- attention runs on the latents themselves. Counted per new token and layer, multiply-adds x 2:
--   naive:     2 Tk d_c H (d_n + d_v)  (rebuild)  +  2 H Tk (d_n + d_hR)  (scores)  +  2 H Tk d_v  (values)
--              +  2 C H d_v  (output)
--   absorbed:  2 H d_n d_c  (fold the query)  +  2 H Tk (d_c + d_hR)  (scores)  +  2 H Tk d_c  (latents)
--              +  2 C H d_c  (folded output)
-- Usage: bin/archlab experiments/lessons/mla_absorption.lua [quick] [out=DIR]
local L = require("archlab.lesson")
local opt = L.args("mla_absorption")
local c = dofile(archlab.root .. "/scripts/presets/deepseek-v2.lua") -- the paper's shapes, nothing allocated
local H, dn, dr, dv, dc, C = c.n_heads, c.qk_nope_head_dim, c.qk_rope_head_dim, c.v_head_dim, c.kv_lora_rank, c.d_model
local function naive(T) return 2 * T * dc * H * (dn + dv) + 2 * H * T * (dn + dr) + 2 * H * T * dv + 2 * C * H * dv end
local function absorbed(T) return 2 * H * dn * dc + 2 * H * T * (dc + dr) + 2 * H * T * dc + 2 * C * H * dc end
local x, yn, ya, rows = {}, {}, {}, {}
for i = 0, 17 do
  local T = 2 ^ i
  x[#x + 1], yn[#yn + 1], ya[#ya + 1] = T, naive(T), absorbed(T)
  if i == 0 or i == 10 or i == 12 or i == 17 then
    rows[#rows + 1] = { string.format("%d", T), L.fmt(naive(T)), L.fmt(absorbed(T)), string.format("%.1fx", naive(T) / absorbed(T)) }
  end
end
local fig = opt.out .. "decode_flops.png"
archlab.plot.lines{ file = fig, title = "DeepSeek-V2: attention FLOPs per decoded token and layer",
                    xlabel = "cached tokens", ylabel = "FLOP", log_x = true, log_y = true,
                    series = { { name = "naive (rebuild keys and values)", x = x, y = yn }, { name = "absorbed", x = x, y = ya } } }
-- the two forms compute the same function: a small trained MLA model generates the same tokens both ways
local m = archlab.model{ preset = "tiny", attention = "mla", kv_lora_rank = 16, seq_len = 128 }
archlab.train{ model = m, data = archlab.data.text(), steps = opt.quick and 2 or 60, batch_size = 8, lr = 3e-3, quiet = true }
local n = opt.quick and 8 or 48
local a = m:generate{ prompt = "The quick brown fox", n = n, mla = "absorbed" }
local b = m:generate{ prompt = "The quick brown fox", n = n, mla = "naive" }
local same = 0
for i = 1, n do if a:sub(i, i) == b:sub(i, i) then same = same + 1 end end
local T = 2 ^ 17
L.handout(opt, {
  title = "What MLA's absorption saves at decode time",
  question = "How much attention work does one decoded token cost DeepSeek-V2, rebuilding keys and values or absorbing the projections?",
  figure = fig,
  caption = string.format("Per new token and layer, H = %d heads, d_c = %d, d_n = %d, d_hR = %d, d_v = %d, d_model = %d.", H, dc, dn, dr, dv, C),
  header = { "cached tokens", "naive FLOP", "absorbed FLOP", "naive / absorbed" },
  rows = rows,
  sentences = {
    string.format("At %d cached tokens the naive form spends %s FLOPs per token and layer, the absorbed one %s: %.0fx less.",
                  T, L.fmt(naive(T)), L.fmt(absorbed(T)), naive(T) / absorbed(T)),
    string.format("Each further cached token adds %s FLOPs to the naive form and %s to the absorbed one; with 1 cached token the absorbed form costs %.1fx the naive one (its folded output projection is wider).",
                  L.fmt(naive(2) - naive(1)), L.fmt(absorbed(2) - absorbed(1)), absorbed(1) / naive(1)),
    same == n and string.format("A small trained MLA model generates the same %d bytes both ways: the two forms compute one function.", n)
      or string.format("A small trained MLA model generates %d of %d bytes alike both ways (float rounding can flip a close argmax).", same, n),
  },
  numbers = { naive = yn, absorbed = ya, contexts = x, same_tokens = same, tokens = n },
})
