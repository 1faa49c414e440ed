-- archlab.sweep: runs the cross product of the values in `vary`, names each run after its values, skips
-- runs whose summary already exists (a sweep resumes where it stopped), and gathers the results into one
-- table with the mean and a Student-t confidence interval over seeds (GSL, archlab.stats.mean_ci).
--
--   local res = archlab.sweep{
--     dir = "out/sweeps/residuals", data = archlab.data.text(),
--     base = { preset = "tiny" },                    -- model config
--     train = { steps = 200, lr = 3e-3 },            -- archlab.train options (model, data, metrics are set here)
--     vary = { residual = { "residual", "hc", "mhc" }, seed = { 1, 2, 3 } },
--     metric = "val_loss", level = 0.95,
--   }
--   print(res.table)    -- Markdown; also written to DIR/results.md and DIR/results.csv
--
-- A key of `vary` goes to the model config when it is a config field, else to the train options; `seed`
-- sets both the model's initialization seed and the data sampling seed. A diverged run is recorded as
-- diverged and the sweep goes on; its metric is left out of the mean (the table counts it). Each run
-- checkpoints to DIR/<name>.ckpt (unless train.checkpoint is given), so an interrupted run resumes where it
-- stopped; a run is done when its summary says it reached its steps.
local archlab = archlab

local function copy(t)
  local c = {}
  for k, v in pairs(t or {}) do c[k] = v end
  return c
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- a value as it names a run: %g when that reads back as the same number, else every digit it takes (1e-3
-- and 1.0000001e-3 must not share a name)
local function fmt(v)
  if type(v) == "number" then
    local s = string.format("%g", v)
    if tonumber(s) == v then return s end
    return string.format("%.17g", v)
  end
  return tostring(v)
end

-- raises msg at the caller of archlab.sweep (level 3: past sweep() and this helper)
local function fail(msg) error(msg, 3) end

-- calls f(...); an error it raises is re-raised at the user's line, without the library's own location
local function at_caller(f, ...)
  local ok, res = pcall(f, ...)
  if not ok then
    local msg = tostring(res):gsub("^[^:]*sweep%.lua:%d+: ", "")
    error(msg, 3)
  end
  return res
end

local function sweep(spec)
  local fn = "archlab.sweep"
  if type(spec) ~= "table" then error(fn .. ": expects a table of options", 2) end
  -- the options and the keys of base, train and vary are checked before any run starts, against the tables
  -- that check them in C (archlab.options: the same lists help prints)
  local names = archlab.options("sweep")
  local function check_keys(t, allowed_list, where)
    local allowed = {}
    for _, n in ipairs(allowed_list) do allowed[n] = true end
    for k in pairs(t) do
      if not allowed[k] then
        local best = type(k) == "string" and archlab.closest(k, allowed_list)
        error(string.format("%s: unknown field '%s%s'%s", fn, where, tostring(k), best and (" (did you mean '" .. best .. "'?)") or ""), 3)
      end
    end
  end
  check_keys(spec, names, "")
  if type(spec.dir) ~= "string" then error(fn .. ": field 'dir' (a directory for the runs) is required", 2) end
  if spec.data == nil then error(fn .. ": field 'data' is required", 2) end
  if type(spec.vary) ~= "table" or next(spec.vary) == nil then error(fn .. ": field 'vary' must map keys to lists of values", 2) end
  for _, k in ipairs{ "base", "train" } do
    if spec[k] ~= nil and type(spec[k]) ~= "table" then error(string.format("%s: field '%s' must be a table, got %s", fn, k, type(spec[k])), 2) end
  end
  local metric, level = spec.metric or "val_loss", spec.level or 0.95
  local config_field, field_names = {}, archlab.config_fields()
  for _, name in ipairs(field_names) do config_field[name] = true end
  -- what a run's archlab.train may be given: its options less those the sweep sets for each run
  local set_by_sweep = { model = true, data = true, metrics = true, label = true }
  local train_names = {}
  for _, o in ipairs(archlab.options("train")) do
    if not set_by_sweep[o] then train_names[#train_names + 1] = o end
  end
  for k in pairs(spec.train or {}) do
    if set_by_sweep[k] then error(string.format("%s: field 'train.%s' is set by the sweep for each run", fn, k), 2) end
  end
  check_keys(spec.train or {}, train_names, "train.")
  check_keys(spec.base or {}, field_names, "base.")
  local vary_names = {}
  for _, n in ipairs(field_names) do vary_names[#vary_names + 1] = n end
  for _, n in ipairs(train_names) do if not config_field[n] then vary_names[#vary_names + 1] = n end end
  check_keys(spec.vary, vary_names, "vary.")

  local keys = sorted_keys(spec.vary)
  for _, k in ipairs(keys) do
    -- a config field goes to archlab.model, anything else (checked above) to archlab.train; seed to both
    local vals = spec.vary[k]
    if type(vals) ~= "table" or #vals == 0 then error(string.format("%s: field 'vary.%s' must be a non-empty list", fn, k), 2) end
    for j = 1, #vals do
      for i = 1, j - 1 do
        if vals[i] == vals[j] then error(string.format("%s: field 'vary.%s' lists %s twice", fn, k, fmt(vals[j])), 2) end
      end
    end
  end
  -- the cross product, first key slowest
  local combos = { {} }
  for _, k in ipairs(keys) do
    local next_combos = {}
    for _, c in ipairs(combos) do
      for _, v in ipairs(spec.vary[k]) do
        local n = copy(c); n[k] = v; next_combos[#next_combos + 1] = n
      end
    end
    combos = next_combos
  end

  local runs, files = {}, {}
  for i, combo in ipairs(combos) do
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = k .. "=" .. fmt(combo[k]) end
    local name = table.concat(parts, ",")
    local file = name:gsub("[^%w%.,=_-]", "_")
    if files[file] then
      fail(string.format("%s: runs '%s' and '%s' would share the files %s/%s.*", fn, files[file], name, spec.dir, file))
    end
    files[file] = name
    local metrics = spec.dir .. "/" .. file .. ".jsonl"
    local summary_file = spec.dir .. "/" .. file .. ".summary.json"
    local summary = archlab.read_json(summary_file)
    -- a run interrupted (or stopped early) is not done: it runs again, resuming from its checkpoint
    local target = spec.train and (spec.train.stop_at ~= nil and spec.train.stop_at > 0 and spec.train.stop_at or spec.train.steps) or 0
    if summary and (summary.interrupted == 1 or summary.diverged ~= 1 and (summary.steps or 0) < target) then
      summary = nil
    end
    local skipped = summary ~= nil
    if not summary then
      local cfg, opts = copy(spec.base), copy(spec.train)
      for k, v in pairs(combo) do
        if k == "seed" then cfg.seed = v; opts.seed = v
        elseif config_field[k] then cfg[k] = v
        else opts[k] = v end
      end
      if not spec.quiet then print(string.format("sweep %s: run %d/%d: %s", spec.dir, i, #combos, name)) end
      local model = at_caller(archlab.model, cfg)
      opts.model, opts.data, opts.metrics, opts.label = model, spec.data, metrics, name
      if opts.checkpoint == nil then opts.checkpoint, opts.resume = spec.dir .. "/" .. file .. ".ckpt", true end
      at_caller(archlab.train, opts)
      summary = assert(archlab.read_json(summary_file))
      model = nil
      collectgarbage()
    elseif not spec.quiet then
      print(string.format("sweep %s: run %d/%d: %s (done before, skipped)", spec.dir, i, #combos, name))
    end
    runs[#runs + 1] = { name = name, params = combo, summary = summary, skipped = skipped }
  end

  -- groups: every key but seed
  local group_keys = {}
  for _, k in ipairs(keys) do if k ~= "seed" then group_keys[#group_keys + 1] = k end end
  local groups, order = {}, {}
  for _, r in ipairs(runs) do
    local parts = {}
    for _, k in ipairs(group_keys) do parts[#parts + 1] = k .. "=" .. fmt(r.params[k]) end
    local gname = #parts > 0 and table.concat(parts, ",") or "all"
    if not groups[gname] then
      groups[gname] = { name = gname, params = {}, values = {}, diverged = 0, runs = 0 }
      for _, k in ipairs(group_keys) do groups[gname].params[k] = r.params[k] end
      order[#order + 1] = gname
    end
    local g = groups[gname]
    g.runs = g.runs + 1
    local v = r.summary[metric]
    if r.summary.diverged == 1 then g.diverged = g.diverged + 1
    elseif type(v) == "number" and v == v then g.values[#g.values + 1] = v end
  end
  local lines = { string.format("| %s | runs | diverged | %s mean | %d%% CI (+/-) |", #group_keys > 0 and table.concat(group_keys, ", ") or "group", metric, math.floor(level * 100 + 0.5)),
                  "|---|---|---|---|---|" }
  local csv = { "group,runs,diverged,mean,ci_half_width" }
  local list = {}
  for _, gname in ipairs(order) do
    local g = groups[gname]
    if #g.values > 0 then g.mean, g.ci = archlab.stats.mean_ci(g.values, level) end
    lines[#lines + 1] = string.format("| %s | %d | %d | %s | %s |", gname, g.runs, g.diverged,
                                      g.mean and string.format("%.4f", g.mean) or "-", g.ci and g.ci == g.ci and string.format("%.4f", g.ci) or "-")
    csv[#csv + 1] = string.format("\"%s\",%d,%d,%s,%s", gname, g.runs, g.diverged, g.mean and string.format("%.6g", g.mean) or "",
                                  g.ci and g.ci == g.ci and string.format("%.6g", g.ci) or "")
    list[#list + 1] = g
  end
  local text = table.concat(lines, "\n")
  for file, content in pairs{ ["results.md"] = text .. "\n", ["results.csv"] = table.concat(csv, "\n") .. "\n" } do
    local f = assert(io.open(spec.dir .. "/" .. file, "w"))
    f:write(content)
    f:close()
  end
  return { runs = runs, groups = list, table = text }
end

archlab.sweep = sweep
return sweep
