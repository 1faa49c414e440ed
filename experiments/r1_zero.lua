-- r1_zero: DeepSeek-R1-Zero at toy scale (R1 sec. 2.2, docs/EQUATIONS.md sec. 8): reinforcement learning with
-- rule-based rewards (GRPO, no value model, no supervised fine-tuning) straight on a briefly pretrained base,
-- on multi-digit addition whose answers the checker verifies. R1-Zero's figure: accuracy and mean response
-- length rise over RL steps.
--   base: the tiny preset (2 blocks, d_model 64, 0.14M parameters, context 96), pretrained 800 steps of 16 x 96
--         bytes on demonstrations of which half are worked column by column between <think> tags and half give
--         the answer at once (<think></think>): the base knows both formats and prefers neither.
--   RL:   GRPO from that base, 3 seeds (sampling), 60 steps of 8 problems x 8 completions (temperature 1), two
--         policy updates per batch, clip 0.2, KL beta 0.04 to the frozen base, lr 3e-4, reward = accuracy +
--         0.5 x format; held-out greedy accuracy every 5 steps on 200 problems never trained on.
-- Measured: reward, accuracy, format rate and completion length of the training samples per step; held-out
-- accuracy, completion length and scratchpad length; the verdict (what reproduces, what does not) from them.
-- Usage: bin/archlab experiments/r1_zero.lua [rl_steps] [quick] [out=DIR]
--   default: 27 s measured on 2 lightly loaded cores, 69 s beside two other builds (results.json has the run's own
--   time); quick: 20 pretraining steps,
--   2 RL steps of 2 x 4, one seed (a few seconds). Figures and results.json land in DIR (default out/r1_zero/).
local E = require("archlab.experiment")
local opt = E.args("r1_zero")
local out, quick = opt.out, opt.quick
local rl_steps = tonumber(opt.pos[1]) or (quick and 2 or 60)
local base_steps = quick and 20 or 800
local seeds = quick and { 1 } or { 1, 2, 3 }
local P, G = quick and 2 or 8, quick and 4 or 8
local eval_n, eval_every = quick and 16 or 200, quick and 1 or 5

local task = archlab.data.addition{ digits = 2, min_digits = 1 }
local t0 = os.clock()
local base = archlab.model{ preset = "tiny", seq_len = 96, seed = 1 }
local pre = archlab.train{ model = base, data = task:corpus{ examples = 40000, think = 0.5, seed = 1 }, steps = base_steps,
                           batch_size = 16, lr = 3e-3, label = "r1_zero base", quiet = true }
local base_eval = task:evaluate{ model = base, n = eval_n }
local base_sampled = task:evaluate{ model = base, n = eval_n, temperature = 1 }
local base_seconds = pre.seconds
-- the reference scratchpad on the same held-out problems (what the demonstrations would write)
local ref_think, nref = 0, 0
for _, p in ipairs(task:problems{ n = eval_n, split = "test", seed = 0x5eed0fa1 }) do
  ref_think = ref_think + (p.solution:match("<think>(.-)</think>") or ""):len()
  nref = nref + 1
end
ref_think = ref_think / nref

local function stats(list)
  local m, ci = archlab.stats.mean_ci(list, 0.95)
  return { mean = m, ci95 = ci, values = list }
end
local function tail_mean(s, k)  -- mean of the last k points of a series
  local sum, n = 0, 0
  for i = math.max(1, #s.y - k + 1), #s.y do if s.y[i] == s.y[i] then sum, n = sum + s.y[i], n + 1 end end
  return n > 0 and sum / n or 0 / 0
end
local function head_mean(s, k)
  local sum, n = 0, 0
  for i = 1, math.min(k, #s.y) do if s.y[i] == s.y[i] then sum, n = sum + s.y[i], n + 1 end end
  return n > 0 and sum / n or 0 / 0
end

local runs, acc_series, len_series, train_acc, train_len, rew_series = {}, {}, {}, {}, {}, {}
local d_acc, d_len, d_train_len, finals = {}, {}, {}, {}
for _, seed in ipairs(seeds) do
  local policy = base:clone()
  local run = archlab.grpo{ policy = policy, task = task, steps = rl_steps, prompts = P, group = G, updates = 2,
                            lr = 3e-4, clip = 0.2, kl_beta = 0.04, format_weight = 0.5, seed = seed,
                            eval_every = eval_every, eval_n = eval_n, label = "r1_zero seed " .. seed, quiet = true }
  local va, vl, vt = run:series("val_accuracy"), run:series("val_length"), run:series("val_think_length")
  local ta, tl, rw = run:series("accuracy"), run:series("length"), run:series("reward")
  local k = math.max(1, math.min(10, #tl.y // 3)) -- the last k steps, against the first steps (the base's samples)
  runs[#runs + 1] = { seed = seed, seconds = run.seconds, flops = run.flops, final = run.final,
                      val_accuracy = E.series(run, "val_accuracy"), val_length = E.series(run, "val_length"),
                      val_think_length = E.series(run, "val_think_length"), accuracy = E.series(run, "accuracy"),
                      length = E.series(run, "length"), reward = E.series(run, "reward"), kl = E.series(run, "kl"),
                      clip_fraction = E.series(run, "clip_fraction"), format = E.series(run, "format"),
                      think_length = E.series(run, "think_length"),
                      train_length_first = head_mean(tl, math.min(3, k)), train_length_last = tail_mean(tl, k) }
  va.name, vl.name = "held-out, seed " .. seed, "held-out greedy, seed " .. seed
  ta.name, tl.name, rw.name = "samples, seed " .. seed, "samples, seed " .. seed, "seed " .. seed
  acc_series[#acc_series + 1], len_series[#len_series + 1] = va, vl
  train_acc[#train_acc + 1], train_len[#train_len + 1], rew_series[#rew_series + 1] = ta, tl, rw
  d_acc[#d_acc + 1] = run.final.accuracy - base_eval.accuracy
  d_len[#d_len + 1] = run.final.length - base_eval.length
  d_train_len[#d_train_len + 1] = runs[#runs].train_length_last - runs[#runs].train_length_first
  finals[#finals + 1] = run.final
end
local seconds_total = os.clock() - t0

-- ---- the verdict, from the numbers ----
local dacc, dlen, dtl = stats(d_acc), stats(d_len), stats(d_train_len)
local fa, fl, ft = {}, {}, {}
for _, f in ipairs(finals) do fa[#fa + 1], fl[#fl + 1], ft[#ft + 1] = f.accuracy, f.length, f.think_length end
local acc, final_len, final_think = stats(fa), stats(fl), stats(ft)
local function resolved(s) return #s.values > 1 and s.mean - s.ci95 > 0 end
local function fmt_ci(s, f)
  f = f or "%.3f"
  if #s.values < 2 then return string.format(f, s.mean) .. " (one seed: no interval)" end
  return string.format(f .. " +- " .. f:gsub("%+", ""), s.mean, s.ci95)
end
local verdict = {}
verdict[#verdict + 1] = string.format(
  "Held-out greedy accuracy %s: %.3f at the base (95%% Wilson interval %.3f-%.3f, %d problems) -> %s after %d GRPO steps "
  .. "(mean +- 95%% t-interval over %d seeds; change %s).", resolved(dacc) and "rises" or "does not rise resolvably",
  base_eval.accuracy, base_eval.lo, base_eval.hi, eval_n, fmt_ci(acc), rl_steps, #seeds, fmt_ci(dacc, "%+.3f"))
verdict[#verdict + 1] = string.format(
  "Mean completion length %s: held-out greedy %.1f -> %s tokens (change %s); training samples (temperature 1), the first "
  .. "%d steps against the last %d: change %s tokens.", resolved(dlen) and "rises" or "does not rise resolvably",
  base_eval.length, fmt_ci(final_len, "%.1f"), fmt_ci(dlen, "%+.1f"), math.min(3, math.max(1, math.min(10, rl_steps // 3))),
  math.max(1, math.min(10, rl_steps // 3)), fmt_ci(dtl, "%+.1f"))
local has_think = final_think.mean == final_think.mean
local selected = has_think and final_think.mean <= 1.05 * ref_think
local base_think = base_eval.think_length == base_eval.think_length and base_eval.think_length or 0
local rep = {}
if resolved(dacc) then rep[#rep + 1] = "rising accuracy" end
if resolved(dlen) then rep[#rep + 1] = "rising response length" end
local not_rep
if not has_think then
  not_rep = "no final completion is well formatted, so the scratchpad cannot be compared with the demonstrations'"
elseif selected then
  not_rep = string.format("the response length stops at the demonstrations' scratchpad -- the final scratchpads average %.1f "
    .. "bytes against %.1f for the worked demonstrations of the same problems (greedy base: %.1f), so RL selected the "
    .. "worked format the base already knew rather than growing new, longer reasoning; no self-verification or "
    .. "reflection ('aha moment') appears at this scale", final_think.mean, ref_think, base_think)
else
  not_rep = string.format("nothing of R1-Zero's picture fails here: the final scratchpads (%.1f bytes) are longer than the "
    .. "worked demonstrations' (%.1f)", final_think.mean, ref_think)
end
verdict[#verdict + 1] = string.format("What reproduces: %s. What does not: %s.",
  #rep > 0 and ("R1-Zero's " .. table.concat(rep, " and ") .. " under rule-based rewards alone, from a base model without "
                .. "supervised fine-tuning") or "neither of R1-Zero's trends is resolved in this run", not_rep)
print(string.format("\nr1_zero: base (tiny, %d pretraining steps): held-out accuracy %.3f (sampled at T = 1: %.3f), length %.1f",
                    base_steps, base_eval.accuracy, base_sampled.accuracy, base_eval.length))
for _, r in ipairs(runs) do
  print(string.format("  seed %d: held-out accuracy %.3f [%.3f, %.3f], length %.1f, scratchpad %.1f bytes; %.1f s",
                      r.seed, r.final.accuracy, r.final.lo, r.final.hi, r.final.length, r.final.think_length, r.seconds))
end
for _, v in ipairs(verdict) do print(v) end

-- ---- figures: means over seeds, the band from the lowest to the highest seed ----
local function across(list, name)
  local o = { name = name, x = {}, y = {}, lo = {}, hi = {} }
  for i = 1, #list[1].x do
    local sum, lo, hi = 0, math.huge, -math.huge
    for _, s in ipairs(list) do
      local v = s.y[i]
      sum, lo, hi = sum + v, math.min(lo, v), math.max(hi, v)
    end
    o.x[i], o.y[i], o.lo[i], o.hi[i] = list[1].x[i], sum / #list, lo, hi
  end
  return o
end
local band = #seeds > 1 and string.format(" (mean, band: %d seeds)", #seeds) or ""
archlab.plot.panels{ file = out .. "training.png", cols = 3, width = 1200, height = 380,
                     title = string.format("R1-Zero at toy scale: GRPO on 1-2 digit addition from a briefly pretrained base%s", band),
                     plots = {
                       { kind = "lines", title = "accuracy", xlabel = "RL step", ylabel = "accuracy", ylim = { 0, 1 },
                         series = { across(acc_series, "held-out, greedy"), across(train_acc, "training samples, T = 1") } },
                       { kind = "lines", title = "completion length", xlabel = "RL step", ylabel = "tokens",
                         series = { across(len_series, "held-out, greedy"), across(train_len, "training samples, T = 1") } },
                       { kind = "lines", title = "reward (accuracy + 0.5 x format)", xlabel = "RL step", ylabel = "mean reward",
                         series = { across(rew_series, "training samples") } },
                     } }
print("figures: " .. out .. "training.png")
E.finish(opt, {
  scale = { base = "tiny preset, seq_len 96", base_steps = base_steps, rl_steps = rl_steps, prompts = P, group = G,
            updates = 2, lr = 3e-4, clip = 0.2, kl_beta = 0.04, format_weight = 0.5, eval_n = eval_n,
            eval_every = eval_every, seeds = seeds, task = "addition, 1-2 digits, 10% of problems held out" },
  base = { accuracy = base_eval.accuracy, lo = base_eval.lo, hi = base_eval.hi, length = base_eval.length,
           think_length = base_eval.think_length, sampled_accuracy = base_sampled.accuracy,
           sampled_think_length = base_sampled.think_length, pretrain_seconds = base_seconds, val_loss = pre.val_loss },
  reference_think_length = ref_think,
  runs = runs, final_accuracy = acc, final_length = final_len, final_think_length = final_think,
  accuracy_change = dacc, length_change = dlen, train_length_change = dtl,
  accuracy_rises = resolved(dacc), length_rises = resolved(dlen), length_stops_at_demonstrations = selected,
  verdict = verdict, cpu_seconds = seconds_total, figures = { "training.png" } })
