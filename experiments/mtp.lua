-- mtp: multi-token prediction (DeepSeek-V3 sec. 2.2, docs/EQUATIONS.md "4b. Multi-token prediction") with and
-- without MTP modules at equal training tokens, and the modules as the draft of speculative decoding (V3 sec. 5.4.3).
--   D = 0 (no module), 1 (V3's depth) and 2 modules on the small preset (4 blocks, d_model 128), lambda = 0.3,
--   the same steps x batch x seq_len, data order and main-model initialization for every D (paired by seed),
--   two seeds. Measured: the main model's validation loss, each module's validation loss and accuracy, the
--   training throughput (what the modules cost), and for D = 1, 2 greedy speculative decoding: on fixed prompts
--   (96 new tokens) decode tokens/s against plain greedy decoding and the acceptance (overall and by depth), on
--   real-text contexts from the validation split (8 new tokens, before a small model's greedy text falls into
--   repetition) the acceptance again; for every prompt and context, whether both outputs are identical (they must
--   be: every emitted token is the main model's greedy choice); and what one main-model pass over 1, 2, 3 tokens
--   costs (the verification pass: why speculative decoding gains or not on this machine).
-- Usage: bin/archlab experiments/mtp.lua [steps] [quick] [out=DIR]
--   default 140 steps of 16 x 128 bytes, 2 seeds (about 2.5 minutes on one thread); quick: 3 steps of 4 x 128,
--   1 seed, 2 prompts of 8 new tokens, 4 contexts (about a second).
--   Figures and results.json land in DIR (default out/mtp/).
local E = require("archlab.experiment")
local opt = E.args("mtp")
local out = opt.out
local quick = opt.quick
local steps = tonumber(opt.pos[1]) or (quick and 3 or 140)
local seeds = quick and { 1 } or { 1, 2 }
local depths = { 0, 1, 2 }
local batch = quick and 4 or 16
local seq_len = 128
local eval_batches = quick and 1 or 16
local lr, warmup = 3e-3, quick and 1 or 15
local lambda = 0.3
local n_new = quick and 8 or 96      -- new tokens per prompt: prompt (16) + n_new - 1 <= seq_len
local reps = quick and 1 or 3         -- timing repetitions per prompt and mode (the fastest counts)
-- fixed English prompts of 16 bytes each, in the style of the fortunes corpus
local PROMPTS = {
  "The best way to ", "You will be happ", "A man who has no", "Life is what hap",
  "It is better to ", "Never trust a ma", "When in doubt, t", "There is no such",
}
if quick then PROMPTS = { PROMPTS[1], PROMPTS[2] } end
for _, p in ipairs(PROMPTS) do assert(#p + n_new - 1 <= seq_len, "mtp: prompt + n_new exceed seq_len") end

local data = archlab.data.text()
local base = { preset = "small", seq_len = seq_len }
local main_cfg = archlab.model(base):config()

local function mean(list)
  local s, n = 0, 0
  for _, v in ipairs(list) do if v == v then s, n = s + v, n + 1 end end
  return n > 0 and s / n or 0 / 0
end
local function stats(list)  -- mean, 95% t-interval half-width (NaN for one value), min, max, the values
  local m, ci = archlab.stats.mean_ci(list, 0.95)
  local lo, hi = math.huge, -math.huge
  for _, v in ipairs(list) do lo, hi = math.min(lo, v), math.max(hi, v) end
  return { mean = m, ci95 = ci, min = lo, max = hi, spread = hi - lo, seeds = list }
end

-- Per-depth draft counts of one speculative run. The stats table gives the rate at each depth j
-- (accepted_j / verified_j; V3's "second token" is j = 1) but not the counts, which pooling prompts needs.
-- Every round drafts D tokens except the last few, whose draft counts Dr decrease (each value below D at most
-- once, 0 at most once); verified_1 counts the rounds with Dr >= 1, verified_j (j > 1) the rounds whose d_{j-1}
-- was accepted (accepted_{j-1}) less possibly the one round with Dr = j - 1. The counts are the candidates whose
-- rates give whole numbers of accepted drafts, summing to st.accepted, with verified_1 consistent with
-- st.drafted. D = 1 is exact (verified_1 = drafted); exact = false if several candidates fit (a depth whose
-- rate is 0 leaves its count open by one, the last round's).
local function depth_counts(st, D)
  if D == 1 then return { st.drafted }, { st.accepted }, true end
  -- verified_1 = the rounds with Dr >= 1: D each but for a set of distinct smaller Dr summing with them to drafted
  local function v1_ok(v1)
    if D > 10 then return true end
    for mask = 0, (1 << (D - 1)) - 1 do
      local n, sum = 0, 0
      for j = 1, D - 1 do if mask & (1 << (j - 1)) ~= 0 then n, sum = n + 1, sum + j end end
      if n <= v1 and sum + D * (v1 - n) == st.drafted then return true end
    end
    return false
  end
  local sols, ver, acc = {}, {}, {}
  local function dfs(j, est)
    if j > D then
      local sum = 0
      for i = 1, D do sum = sum + acc[i] end
      if sum == st.accepted then sols[#sols + 1] = { table.unpack(ver, 1, D) } end
      return
    end
    local r = st.acceptance_by_depth[j] or 0
    for _, n in ipairs{ est, est - 1 } do
      local a = r * n
      local ai = math.floor(a + 0.5)
      if n >= 0 and math.abs(a - ai) < 1e-6 and (j > 1 or v1_ok(n)) then ver[j], acc[j] = n, ai; dfs(j + 1, ai) end
    end
  end
  dfs(1, st.rounds)
  local v = sols[1]
  if not v then -- nothing fits (should not happen): the estimates
    v = {}
    local est = st.rounds
    for j = 1, D do v[j] = est; est = math.floor((st.acceptance_by_depth[j] or 0) * est + 0.5) end
  end
  local a = {}
  for j = 1, D do a[j] = math.floor((st.acceptance_by_depth[j] or 0) * v[j] + 0.5) end
  local exact = #sols == 1
  for i = 2, #sols do for j = 1, D do if sols[i][j] ~= v[j] then exact = false end end end
  return v, a, exact and #sols >= 1
end

-- Speculative vs plain greedy decoding of every prompt (n new tokens each): outputs compared, acceptance pooled
-- over the prompts; with reps > 0, tokens/s from the fastest of `reps` timings of each prompt and mode (the
-- machine is shared).
local function decode_bench(m, D, prompts, n, reps)
  local equal, n_equal = true, 0
  local drafted, accepted, rounds = 0, 0, 0
  local ver, acc = {}, {}
  for j = 1, D do ver[j], acc[j] = 0, 0 end
  local counts_exact = true
  local t_greedy, t_spec, tokens = 0, 0, 0
  local samples = {}
  for i, p in ipairs(prompts) do
    local best_g, best_s = math.huge, math.huge
    local txt_g, txt_s, st_s
    for _ = 1, math.max(reps, 1) do
      local tg, sg = m:generate{ prompt = p, n = n }
      local ts, ss = m:generate{ prompt = p, n = n, speculative = "mtp" }
      best_g, best_s = math.min(best_g, sg.seconds), math.min(best_s, ss.seconds)
      txt_g, txt_s, st_s = tg, ts, ss
    end
    local same = txt_g == txt_s
    equal = equal and same
    if same then n_equal = n_equal + 1 end
    drafted, accepted, rounds = drafted + st_s.drafted, accepted + st_s.accepted, rounds + st_s.rounds
    local v, a, exact = depth_counts(st_s, D)
    counts_exact = counts_exact and exact
    for j = 1, D do ver[j], acc[j] = ver[j] + v[j], acc[j] + a[j] end
    t_greedy, t_spec, tokens = t_greedy + best_g, t_spec + best_s, tokens + n
    if i <= 2 then samples[#samples + 1] = p .. txt_g end
  end
  local by_depth = {}
  for j = 1, D do by_depth[j] = ver[j] > 0 and acc[j] / ver[j] or 0 / 0 end
  local r = {
    outputs_equal = equal, prompts_equal = n_equal, prompts = #prompts, n_new = n,
    drafted = drafted, accepted = accepted, rounds = rounds,
    acceptance = drafted > 0 and accepted / drafted or 0 / 0,
    acceptance_by_depth = by_depth, verified_by_depth = ver, accepted_by_depth = acc, depth_counts_exact = counts_exact,
    -- the first token comes from the prefill; every round emits accepted + 1 more
    tokens_per_round = rounds > 0 and (tokens - #prompts) / rounds or 0 / 0,
    samples = samples,
  }
  if reps > 0 then
    r.greedy_tokens_per_s, r.spec_tokens_per_s = tokens / t_greedy, tokens / t_spec
    r.speed_ratio, r.greedy_seconds, r.spec_seconds = t_greedy / t_spec, t_greedy, t_spec
  end
  return r
end

-- What one pass of the main model over k tokens costs against one token (k = 1 .. 3): the prefill of a k-token
-- prompt and its first token, fastest of `reps` timings. Speculative decoding pays off where this stays near 1
-- (decoding bound by memory bandwidth, as on V3's accelerators); it is near k where a pass is bound by arithmetic.
local function pass_cost(m, kmax, reps)
  local t = {}
  for k = 1, kmax do
    local best = math.huge
    local prompt = PROMPTS[1]:sub(1, k)
    for _ = 1, reps do
      local _, st = m:generate{ prompt = prompt, n = 1 }
      best = math.min(best, st.seconds)
    end
    t[k] = best
  end
  local rel = {}
  for k = 1, kmax do rel[k] = t[k] / t[1] end
  return { seconds = t, relative = rel }
end

-- Real-text contexts: the validation split of the default corpus, rebuilt as archlab.data.text builds it
-- (data/text.c: the regular files of the directory in name order, files holding a NUL byte skipped, 8192-byte
-- blocks, every 10th block validation); checked against the split's size, else the fixed prompts are used.
local CORPUS = "/usr/share/games/fortunes"
local function validation_text()
  local want = tonumber(tostring(data):match("(%d+) validation bytes"))
  local pipe = io.popen("find '" .. CORPUS .. "' -maxdepth 1 -type f -printf '%f\\n' 2>/dev/null")
  if not pipe then return nil end
  local names = {}
  for line in pipe:lines() do if line:sub(1, 1) ~= "." then names[#names + 1] = line end end
  pipe:close()
  table.sort(names)
  local parts = {}
  for _, n in ipairs(names) do
    local f = io.open(CORPUS .. "/" .. n, "rb")
    if f then
      local s = f:read("a")
      f:close()
      if s and #s > 0 and not s:find("\0", 1, true) then parts[#parts + 1] = s end
    end
  end
  local all = table.concat(parts)
  local val = {}
  local nb = (#all + 8191) // 8192
  for b = 0, nb - 1 do if b % 10 == 9 then val[#val + 1] = all:sub(b * 8192 + 1, math.min(#all, (b + 1) * 8192)) end end
  local v = table.concat(val)
  if not want or #v ~= want then return nil end
  return v
end
-- n_ctx contexts of ctx_len bytes, each starting at the start of a line of prose (a letter, not the fortunes'
-- "%" separator lines), spread evenly over the validation text
local function contexts(n_ctx, ctx_len)
  local v = validation_text()
  if not v then return nil end
  local starts = {}
  for pos in v:gmatch("\n()%a") do if pos + ctx_len - 1 <= #v then starts[#starts + 1] = pos end end
  local out = {}
  for i = 1, n_ctx do
    local pos = starts[1 + ((i - 1) * #starts) // n_ctx]
    local c = v:sub(pos, pos + ctx_len - 1)
    if c:find("\0", 1, true) then return nil end
    out[#out + 1] = c
  end
  return out
end
local CTX_LEN, CTX_NEW = 48, 8
local CONTEXTS = contexts(quick and 4 or 128, CTX_LEN)
local contexts_source = CONTEXTS and "validation text" or "fixed prompts"
if not CONTEXTS then CONTEXTS = PROMPTS end

local runs = {}
for _, seed in ipairs(seeds) do
  for _, D in ipairs(depths) do
    local m = archlab.model(E.merge(base, { mtp_depth = D, seed = seed, mtp_lambda = D > 0 and lambda or nil }))
    local p = m:params()
    local run = archlab.train{ model = m, data = data, steps = steps, batch_size = batch, lr = lr, warmup = warmup,
                               schedule = "cosine", eval_batches = eval_batches, seed = seed,
                               log_every = quick and 1 or 10, label = string.format("mtp D=%d seed %d", D, seed), quiet = true }
    local r = { D = D, seed = seed, val_loss = run.val_loss, train_loss = run.train_loss, tokens_per_s = run.tokens_per_s,
                seconds = run.seconds, params_main = p.total, params_mtp = p.mtp or 0, depth = {},
                loss = E.series(run, "loss") }
    for k = 1, D do
      local vl, va = run:series("val_mtp" .. k .. ".loss"), run:series("val_mtp" .. k .. ".accuracy")
      local tl, ta = run:series("mtp" .. k .. ".loss"), run:series("mtp" .. k .. ".accuracy")
      r.depth[k] = { k = k, val_loss = vl.y[#vl.y], val_accuracy = va.y[#va.y],
                     train_loss_last = tl.y[#tl.y], train_accuracy_last = ta.y[#ta.y] }
    end
    if D > 0 then
      r.decode = decode_bench(m, D, PROMPTS, n_new, reps)
      r.context = decode_bench(m, D, CONTEXTS, CTX_NEW, 0)
    else
      r.pass_cost = pass_cost(m, #depths, quick and 3 or 30)
    end
    runs[#runs + 1] = r
    io.write(string.format("D=%d seed %d: val loss %.4f, %.0f tokens/s%s\n", D, seed, run.val_loss, run.tokens_per_s,
                           r.decode and string.format(", acceptance %.3f (real-text contexts %.3f), speculative/greedy %.2fx, outputs equal %s",
                                                      r.decode.acceptance, r.context.acceptance, r.decode.speed_ratio,
                                                      tostring(r.decode.outputs_equal and r.context.outputs_equal)) or ""))
  end
end

-- ---- per D: means over the seeds ----
-- decode_bench results of the seeds, pooled: acceptance over all drafts, tokens/s over all timed tokens
local function pool(list, D)
  local o = { outputs_equal = true, drafted = 0, accepted = 0, rounds = 0, depth_counts_exact = true, prompts = 0,
              acceptance_seeds = {}, speed_ratio_seeds = {} }
  local ver, acc, tg, ts, tokens = {}, {}, 0, 0, 0
  for j = 1, D do ver[j], acc[j] = 0, 0 end
  for i, d in ipairs(list) do
    o.outputs_equal = o.outputs_equal and d.outputs_equal
    o.depth_counts_exact = o.depth_counts_exact and d.depth_counts_exact
    o.drafted, o.accepted, o.rounds, o.prompts = o.drafted + d.drafted, o.accepted + d.accepted, o.rounds + d.rounds, o.prompts + d.prompts
    for j = 1, D do ver[j], acc[j] = ver[j] + d.verified_by_depth[j], acc[j] + d.accepted_by_depth[j] end
    tokens = tokens + d.prompts * d.n_new
    o.acceptance_seeds[i] = d.acceptance
    if d.speed_ratio then
      tg, ts = tg + d.greedy_seconds, ts + d.spec_seconds
      o.speed_ratio_seeds[i] = d.speed_ratio
    end
  end
  o.acceptance = o.drafted > 0 and o.accepted / o.drafted or 0 / 0
  o.acceptance_by_depth, o.verified_by_depth, o.accepted_by_depth = {}, ver, acc
  for j = 1, D do o.acceptance_by_depth[j] = ver[j] > 0 and acc[j] / ver[j] or 0 / 0 end
  o.tokens_per_round = o.rounds > 0 and (tokens - o.prompts) / o.rounds or 0 / 0
  if ts > 0 then
    o.speed_ratio, o.greedy_tokens_per_s, o.spec_tokens_per_s = tg / ts, tokens / tg, tokens / ts
    -- where the time goes: one round (a verification pass and the drafts) in units of one greedy step
    -- (speed ratio = tokens_per_round / round_cost_steps)
    o.round_cost_steps = (ts / o.rounds) / (tg / tokens)
  end
  return o
end
local per = {}
local all_equal = true
local noise_floor = 0     -- the largest seed-to-seed difference of the main model's validation loss at one D
local base_tps
for _, D in ipairs(depths) do
  local rs = {}
  for _, r in ipairs(runs) do if r.D == D then rs[#rs + 1] = r end end
  local function col(f) local t = {} for _, r in ipairs(rs) do t[#t + 1] = f(r) end return t end
  local g = { D = D, n_seeds = #rs, val_loss = stats(col(function(r) return r.val_loss end)),
              train_loss = mean(col(function(r) return r.train_loss end)),
              tokens_per_s = mean(col(function(r) return r.tokens_per_s end)),
              seconds = mean(col(function(r) return r.seconds end)),
              params_main = rs[1].params_main, params_mtp = rs[1].params_mtp, depth = {} }
  noise_floor = math.max(noise_floor, g.val_loss.spread)
  if D == 0 then base_tps = g.tokens_per_s end
  g.tokens_per_s_rel = g.tokens_per_s / base_tps
  g.mtp_params_rel = g.params_mtp / g.params_main
  for k = 1, D do
    g.depth[k] = { k = k, val_loss = stats(col(function(r) return r.depth[k].val_loss end)),
                   val_accuracy = stats(col(function(r) return r.depth[k].val_accuracy end)) }
  end
  if D > 0 then
    g.decode = pool(col(function(r) return r.decode end), D)
    g.context = pool(col(function(r) return r.context end), D)
    all_equal = all_equal and g.decode.outputs_equal and g.context.outputs_equal
  else
    local c = col(function(r) return r.pass_cost.relative end)
    g.pass_cost_relative = {}
    for k = 1, #c[1] do g.pass_cost_relative[k] = mean(col(function(r) return r.pass_cost.relative[k] end)) end
  end
  per[#per + 1] = g
end
-- paired by seed (same data order and main-model initialization): D's main validation loss minus D = 0's
for _, g in ipairs(per) do
  if g.D > 0 then
    local d = {}
    for i = 1, #g.val_loss.seeds do d[i] = g.val_loss.seeds[i] - per[1].val_loss.seeds[i] end
    g.paired_diff = stats(d)
  end
end

-- ---- figures ----
local Ds, means, errs = {}, {}, {}
for i, g in ipairs(per) do Ds[i], means[i], errs[i] = g.D, g.val_loss.mean, g.val_loss.spread / 2 end
local loss_series = { { name = "mean (bar: seed range)", x = Ds, y = means, err = errs, marker = true } }
for si, seed in ipairs(seeds) do
  local y = {}
  for i, g in ipairs(per) do y[i] = g.val_loss.seeds[si] end
  loss_series[#loss_series + 1] = { name = "seed " .. seed, x = Ds, y = y, marker = true }
end
local acc_groups, acc_cats = {}, {}
for k = 1, #depths - 1 do acc_cats[k] = string.format("module %d (t+%d)", k, k + 1) end
local ap_groups, ap_cats = {}, {}
for k = 1, #depths - 1 do ap_cats[k] = string.format("depth %d", k) end
ap_cats[#ap_cats + 1] = "overall"
for _, g in ipairs(per) do
  if g.D > 0 then
    local v = {}
    for k = 1, #acc_cats do v[k] = g.depth[k] and g.depth[k].val_accuracy.mean or 0 / 0 end
    acc_groups[#acc_groups + 1] = { name = "D = " .. g.D, values = v }
    for _, w in ipairs{ { g.context, "real text" }, { g.decode, "generation" } } do
      local a = {}
      for k = 1, #ap_cats - 1 do a[k] = w[1].acceptance_by_depth[k] or 0 / 0 end
      a[#a + 1] = w[1].acceptance
      ap_groups[#ap_groups + 1] = { name = string.format("D = %d, %s", g.D, w[2]), values = a }
    end
  end
end
local cost_cats, rel_train, rel_dec = {}, {}, {}
for i, g in ipairs(per) do
  cost_cats[i] = "D = " .. g.D
  rel_train[i] = g.tokens_per_s_rel
  rel_dec[i] = g.decode and g.decode.speed_ratio or 0 / 0
end
archlab.plot.panels{ file = out .. "mtp.png", cols = 2, width = 900, height = 700,
                     title = string.format("Multi-token prediction (small preset, %d steps of %d x %d bytes, %d seed%s, lambda %g)",
                                           steps, batch, seq_len, #seeds, #seeds > 1 and "s" or "", lambda),
                     plots = {
                       { kind = "lines", title = "(a) main model: validation loss", xlabel = "MTP depth D", ylabel = "loss (nats/byte)",
                         xlim = { -0.25, #depths - 0.75 }, series = loss_series },
                       { kind = "bars", title = "(b) MTP modules: validation accuracy", ylabel = "top-1 accuracy", categories = acc_cats,
                         groups = acc_groups, labels = true },
                       { kind = "bars", title = "(c) speculative decoding: acceptance", ylabel = "accepted / verified drafts",
                         categories = ap_cats, groups = ap_groups, labels = true },
                       { kind = "bars", title = "(d) tokens/s: training vs D = 0, speculative vs greedy", ylabel = "ratio", categories = cost_cats,
                         groups = { { name = "training", values = rel_train },
                                    { name = "decoding", values = rel_dec } }, labels = true },
                     } }

-- ---- table ----
print(string.format("\nmtp: %d steps of %d x %d bytes (%d tokens per run), %d seed(s), lambda %g; decoding: %d prompts x %d new tokens",
                    steps, batch, seq_len, steps * batch * seq_len, #seeds, lambda, #PROMPTS, n_new))
print(string.format("%-3s %-22s %-9s %-11s %-30s %-24s %-24s %s", "D", "val loss (seeds)", "vs D=0", "train tok/s", "MTP val acc (loss) per depth",
                    "accept real text: by depth", "accept generation: by depth", "spec/greedy"))
for _, g in ipairs(per) do
  local sv = {}
  for _, v in ipairs(g.val_loss.seeds) do sv[#sv + 1] = string.format("%.4f", v) end
  local dv = {}
  for k = 1, g.D do dv[#dv + 1] = string.format("%.3f (%.3f)", g.depth[k].val_accuracy.mean, g.depth[k].val_loss.mean) end
  local function acc(w)
    if not w then return "-" end
    local t = {}
    for k = 1, g.D do t[#t + 1] = string.format("%.3f", w.acceptance_by_depth[k]) end
    return string.format("%.3f: %s", w.acceptance, table.concat(t, ", "))
  end
  print(string.format("%-3d %-22s %-9s %-11.0f %-30s %-24s %-24s %s", g.D,
                      string.format("%.4f [%s]", g.val_loss.mean, table.concat(sv, " ")),
                      g.paired_diff and string.format("%+.4f", g.paired_diff.mean) or "-", g.tokens_per_s,
                      #dv > 0 and table.concat(dv, ", ") or "-", acc(g.context), acc(g.decode),
                      g.decode and string.format("%.2fx (%.0f / %.0f tok/s)", g.decode.speed_ratio, g.decode.spec_tokens_per_s,
                                                 g.decode.greedy_tokens_per_s) or "-"))
end
print(string.format("seed-to-seed spread of the main validation loss (largest over D): %.4f; speculative output == greedy output for every prompt: %s",
                    noise_floor, tostring(all_equal)))
do
  local pc = {}
  for k, v in ipairs(per[1].pass_cost_relative) do pc[#pc + 1] = string.format("%d: %.2f", k, v) end
  print(string.format("one main-model pass over k tokens against one (k %s); real-text contexts: %d of %d bytes from %s, %d new tokens",
                      table.concat(pc, ", "), #CONTEXTS, CTX_LEN, contexts_source, CTX_NEW))
end
print("figures: " .. out .. "mtp.png")

E.finish(opt, { scale = { steps = steps, preset = "small", n_layers = main_cfg.n_layers, d_model = main_cfg.d_model, seq_len = seq_len, batch_size = batch, tokens = steps * batch * seq_len,
                          seeds = seeds, val_batches = eval_batches, lr = lr, warmup = warmup, mtp_lambda = lambda,
                          prompts = #PROMPTS, prompt_bytes = #PROMPTS[1], n_new = n_new, timing_reps = reps,
                          contexts = #CONTEXTS, context_bytes = CTX_LEN, context_new = CTX_NEW, contexts_source = contexts_source },
                per_depth = per, runs = runs, noise_floor = noise_floor, outputs_equal = all_equal,
                prompts = PROMPTS, figures = { "mtp.png" } })
