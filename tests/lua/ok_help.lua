-- Help is complete and cannot drift (tests/test_cli.c runs this): every function reachable from the archlab
-- module, a model, a data source and a run has a help topic; every option a function's table lists is in its
-- help and is accepted by the function (a value of the wrong type gets a type error, not "unknown"), and a key
-- outside the table is refused. The functions are found by walking the live tables, not from the help itself.
local found = {}
local function walk(t, prefix)
  for k, v in pairs(t) do
    if type(v) == "function" then found[#found + 1] = prefix .. "." .. k
    elseif type(v) == "table" and k ~= "root" then walk(v, prefix .. "." .. k) end
  end
end
walk(archlab, "archlab")
local m = archlab.model{ preset = "tiny" }
local d = archlab.data.copy{ alphabet = 8 }
local run = archlab.train{ model = m, data = d, steps = 1, quiet = true }
for k, v in pairs(getmetatable(m).__index) do if type(v) == "function" then found[#found + 1] = "model:" .. k end end
for k, v in pairs(getmetatable(d).__index) do if type(v) == "function" then found[#found + 1] = "data:" .. k end end
for _, k in ipairs{ "series", "csv" } do assert(type(run[k]) == "function") found[#found + 1] = "run:" .. k end
for k, v in pairs(getmetatable(archlab.tensor.from{ 1 }).methods) do
  if type(v) == "function" then found[#found + 1] = "tensor:" .. k end
end
table.sort(found)

local overview = archlab.help_text()
local n_opts = 0
for _, name in ipairs(found) do
  local ok, text = pcall(archlab.help_text, name)
  assert(ok, "no help for " .. name .. ": " .. tostring(text))
  local short = name:match("[.:]([%w_]+)$")
  assert(overview:find(short, 1, true), "the overview does not mention " .. name)
  local ok2, opts = pcall(archlab.options, name)
  if ok2 then
    for _, o in ipairs(opts) do
      assert(text:find("\n    " .. o .. " ", 1, true), name .. ": help lacks option " .. o)
      n_opts = n_opts + 1
    end
  end
end

-- every listed option is accepted and every other key refused, for each function that takes an option table
local function call(name, opts)
  local recv, meth = name:match("^(%a+):([%w_]+)$")
  if recv == "model" then return pcall(m[meth], m, opts) end
  local f = archlab
  for part in name:gmatch("[^.]+") do if part ~= "archlab" then f = f[part] end end
  return pcall(f, opts)
end
local checked = 0
for _, name in ipairs(found) do
  local ok, opts = pcall(archlab.options, name)
  if ok and #opts > 0 and name ~= "archlab.options" then
    local ok1, err = call(name, { zz_not_an_option = 1 })
    assert(not ok1 and tostring(err):find("zz_not_an_option", 1, true), name .. " accepted an unknown key: " .. tostring(err))
    for _, o in ipairs(opts) do
      local _, e = call(name, { [o] = function() end })
      e = tostring(e)
      assert(not e:find("unknown field '" .. o .. "'", 1, true) and not e:find("unknown option '" .. o .. "'", 1, true),
             name .. " lists '" .. o .. "' but refuses it: " .. e)
    end
    checked = checked + 1
  end
end

-- what a new user looked for (the issue's list)
local train = archlab.help_text("train")
for _, o in ipairs{ "lr", "schedule", "warmup", "batch_size", "grad_clip", "checkpoint", "resume" } do
  assert(train:find("\n    " .. o .. " ", 1, true), "train help lacks " .. o)
end
assert(archlab.help_text("heatmap"):find("cbar_label", 1, true))
assert(archlab.help_text("archlab.plot.heatmap") == archlab.help_text("heatmap"))
for _, w in ipairs{ "generate", "kv_cache", "niah", "expert_load", "active_params", "series" } do
  assert(overview:find(w, 1, true), "overview lacks " .. w)
end
assert(archlab.help_text("model"):find("kv_lora_rank", 1, true), "model's help lists the config fields")
assert(archlab.help_text("config"):find("sinkhorn_iters", 1, true))
-- unknown topics: an error with a suggestion
local ok, err = pcall(archlab.help_text, "genrate")
assert(not ok and err:find("did you mean 'generate'", 1, true), err)
-- a run's unknown field is an error too, not nil
ok, err = pcall(function() return run.val_los end)
assert(not ok and err:find("did you mean 'val_loss'", 1, true), err)
-- archlab.help prints (and returns nothing)
assert(select("#", archlab.help("sweep")) == 0)
print(string.format("help: %d functions, %d options, %d option tables checked", #found, n_opts, checked))
