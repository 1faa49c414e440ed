-- Lesson: the KV cache of the attention families. Decoding keeps every past token's keys and values; how much
-- that is per token decides the longest context and the batch a GPU can serve. Counted on paper (archlab.compare,
-- nothing allocated) for DeepSeek-V2 with MHA, GQA (8 KV heads), MQA and its own MLA.
-- Usage: bin/archlab experiments/lessons/kv_cache.lua [quick] [out=DIR]
local L = require("archlab.lesson")
local opt = L.args("kv_cache")
local base = opt.quick and "tiny" or "deepseek-v2"
local configs = { base .. ":attention=mha", base .. ":attention=gqa:n_kv_heads=" .. (opt.quick and 2 or 8),
                  base .. ":attention=mqa", base .. ":attention=mla" .. (opt.quick and ":kv_lora_rank=16" or "") }
local names = { "MHA", opt.quick and "GQA-2" or "GQA-8", "MQA", "MLA" }
local long = opt.quick and 64 or 131072
local memory = 80e9 -- one 80 GB GPU
local t = archlab.compare{ configs = configs, contexts = { long }, memory = memory, figures = opt.out }
local function row(q)
  for _, r in ipairs(t.rows) do if r.quantity:find(q, 1, true) == 1 then return r.values end end
  error("no row " .. q)
end
local per_layer, per_token = row("KV cache elements per token and layer"), row("KV cache per token (bf16)")
local at_long, total = row("KV cache at "), row("total parameters")
local function gib(b) return string.format("%.2f GiB", b / 2 ^ 30) end
local rows = {}
for j, n in ipairs(names) do
  rows[j] = { n, string.format("%d", per_layer[j]), string.format("%.1f KiB", per_token[j] / 1024), gib(at_long[j]),
              string.format("%.1fB", total[j] / 1e9) }
end
-- how many sequences of the long context fit in the GPU's memory next to nothing else
local seqs = {}
for j = 1, 4 do seqs[j] = math.floor(memory / at_long[j]) end
L.handout(opt, {
  title = "The KV cache of the attention families",
  question = string.format("How much memory does %s's KV cache take per token and at %d tokens, with each attention family?", base, long),
  figure = opt.out .. "kv_context.png",
  caption = "KV cache (bf16, one sequence) against context; the flat line is one 80 GB GPU.",
  header = { "attention", "elements per token and layer", "per token (bf16)", string.format("at %d tokens", long), "parameters" },
  rows = rows,
  sentences = {
    string.format("MLA caches %d elements per token and layer where MHA caches %d: %.1f%% less, so %d sequences of %d tokens fit in 80 GB instead of %d.",
                  per_layer[4], per_layer[1], 100 * (1 - per_layer[4] / per_layer[1]), seqs[4], long, seqs[1]),
    string.format("GQA with %s KV heads keeps %.1f%% of MHA's cache, MQA %.1f%%: sharing keys and values across heads is what shrinks it.",
                  opt.quick and 2 or 8, 100 * per_layer[2] / per_layer[1], 100 * per_layer[3] / per_layer[1]),
    string.format("Between the families the parameters differ by at most %.1f%%, the cache per token by a factor of %.0f.",
                  100 * (math.max(total[1], total[2], total[3], total[4]) / math.min(total[1], total[2], total[3], total[4]) - 1),
                  math.max(per_layer[1], per_layer[2], per_layer[3], per_layer[4]) / math.min(per_layer[1], per_layer[2], per_layer[3], per_layer[4])),
  },
  numbers = { per_layer = per_layer, per_token_bytes = per_token, at_long_bytes = at_long, sequences_in_80GB = seqs },
})
