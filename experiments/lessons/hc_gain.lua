-- Lesson: why HC's composite gain explodes with depth and mHC's does not. The residual stream of an n-stream
-- hyper-connection passes through one n x n mixing matrix H_res per sub-layer, so after l sub-layers it has been
-- multiplied by their product. HC learns H_res freely; mHC projects it onto the doubly stochastic matrices
-- (Sinkhorn-Knopp: rows and columns sum to 1). Here: random matrices of each kind, multiplied up to 64 deep, and
-- the Amax gain of the product (its largest absolute row sum, the most a stream can be amplified).
-- Usage: bin/archlab experiments/lessons/hc_gain.lua [quick] [out=DIR]
local L = require("archlab.lesson")
local T = archlab.tensor
local opt = L.args("hc_gain")
local n, depth, trials = 4, opt.quick and 16 or 64, opt.quick and 4 or 64

-- a seeded uniform generator (Lua's math.random is seeded per run)
local state = 12345
local function rand()
  state = (state * 1103515245 + 12345) % 2147483648
  return state / 2147483648
end

-- HC-like: the identity plus small positive and negative perturbations (what a learned H_res starts from)
local function unconstrained()
  local m = T.zeros(n, n, "f64")
  for i = 1, n do for j = 1, n do m[{ i, j }] = (i == j and 1 or 0) + 0.3 * (rand() - 0.35) end end
  return m
end
-- mHC-like: a positive matrix normalized by Sinkhorn-Knopp (20 alternations, as the paper's t_max)
local function doubly_stochastic()
  local m = T.zeros(n, n, "f64")
  for i = 1, n do for j = 1, n do m[{ i, j }] = math.exp(2 * rand()) end end
  for _ = 1, 20 do
    m = m / m:sum(2):reshape(n, 1) -- rows
    m = m / m:sum(1):reshape(1, n) -- columns
  end
  return m
end
local function amax(m) return m:abs():sum(2):max() end

local x, hc_med, mhc_med, hc_hi = {}, {}, {}, {}
local hc_all, mhc_all = {}, {}
for t = 1, trials do
  local a, b = T.from({ { 1, 0, 0, 0 }, { 0, 1, 0, 0 }, { 0, 0, 1, 0 }, { 0, 0, 0, 1 } }, "f64"), nil
  b = a:clone()
  for l = 1, depth do
    a = unconstrained():matmul(a)
    b = doubly_stochastic():matmul(b)
    hc_all[l] = hc_all[l] or {}
    mhc_all[l] = mhc_all[l] or {}
    hc_all[l][t] = amax(a)
    mhc_all[l][t] = amax(b)
  end
end
local function median(v)
  local s = {}
  for i, x in ipairs(v) do s[i] = x end
  table.sort(s)
  return #s % 2 == 1 and s[(#s + 1) // 2] or (s[#s // 2] + s[#s // 2 + 1]) / 2
end
for l = 1, depth do
  x[l] = l
  hc_med[l] = median(hc_all[l])
  mhc_med[l] = median(mhc_all[l])
  local m = 0
  for _, v in ipairs(hc_all[l]) do m = math.max(m, v) end
  hc_hi[l] = m
end
local fig = opt.out .. "gain.png"
archlab.plot.lines{ file = fig, title = string.format("Amax gain of a product of %d x %d mixing matrices", n, n),
                    xlabel = "depth (sub-layers)", ylabel = "Amax gain (largest absolute row sum)", log_y = true,
                    series = { { name = "unconstrained (HC), median", x = x, y = hc_med },
                               { name = "unconstrained, worst of " .. trials, x = x, y = hc_hi },
                               { name = "doubly stochastic (mHC), median", x = x, y = mhc_med } } }
local rows = {}
for _, l in ipairs{ 1, 4, 16, depth } do
  if l <= depth then rows[#rows + 1] = { l, L.fmt(hc_med[l]), L.fmt(hc_hi[l]), L.fmt(mhc_med[l]) } end
end
local growth = (hc_med[depth] / hc_med[1]) ^ (1 / (depth - 1))
local mhc_dev = 0
for l = 1, depth do for _, v in ipairs(mhc_all[l]) do mhc_dev = math.max(mhc_dev, math.abs(v - 1)) end end
L.handout(opt, {
  title = "Why HC's gain explodes and mHC's does not",
  question = string.format("What happens to a signal passed through %d random n = %d mixing matrices, unconstrained or doubly stochastic?", depth, n),
  figure = fig,
  caption = string.format("Median (and worst) Amax gain over %d trials of the product of random mixing matrices.", trials),
  header = { "depth", "HC median gain", "HC worst gain", "mHC median gain" },
  rows = rows,
  sentences = {
    string.format("Unconstrained matrices multiply their gains: the median grows by a factor of %.3f per sub-layer, to %s at depth %d.",
                  growth, L.fmt(hc_med[depth]), depth),
    string.format("A product of doubly stochastic matrices is doubly stochastic, its rows summing to 1: over every trial and depth the gain here stays within %s of 1 (Sinkhorn's tolerance).",
                  L.fmt(mhc_dev, 2)),
    string.format("The worst of %d unconstrained trials reaches %s: one unlucky stack of layers is enough to blow up the residual stream.",
                  trials, L.fmt(hc_hi[depth])),
  },
  numbers = { hc_median = hc_med, mhc_median = mhc_med, hc_worst = hc_hi, growth_per_layer = growth, mhc_max_deviation = mhc_dev },
})
