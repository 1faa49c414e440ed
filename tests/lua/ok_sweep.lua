-- a sweep with a diverging learning rate: the diverged runs are recorded and the sweep completes;
-- run twice, the second time every run is skipped
local dir = arg[1]
local d = archlab.data.copy{}
local res = archlab.sweep{ dir = dir, data = d, base = { preset = "tiny", seq_len = 32, n_layers = 1 },
  train = { steps = 30, batch_size = 4, quiet = true, grad_clip = 0, warmup = 0 },
  vary = { lr = { 1e-3, 100 }, seed = { 1, 2 } } }
local skipped = 0
for _, r in ipairs(res.runs) do if r.skipped then skipped = skipped + 1 end end
for _, g in ipairs(res.groups) do print(g.name, g.runs, g.diverged, #g.values) end
print("skipped", skipped)
local run = archlab.train{ model = archlab.model{ preset = "tiny", n_layers = 1 }, data = d, steps = 4, batch_size = 2, log_every = 2, quiet = true }
print(run:csv(dir .. "/run.csv"))
