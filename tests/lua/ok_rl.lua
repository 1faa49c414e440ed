-- The Lua side of reinforcement learning and distillation (tests/test_grpo.c runs this): every task method has help
-- and accepts the options its table lists (and refuses others), the checker's verdicts through the binding, a
-- corpus trains, model:clone copies the weights and nothing else, archlab.grpo and archlab.distill return strict
-- runs whose series hold what they must (reward = accuracy + format_weight x format at every step).
local t = archlab.data.addition{ digits = 1, test_fraction = 0.2 }
assert(tostring(t):find("addition of two 1-1 digit numbers", 1, true), tostring(t))
local m = archlab.model{ vocab_size = 256, d_model = 32, n_layers = 1, n_heads = 2, d_ff = 64, seq_len = 48 }

-- help and options of the task's methods (ok_help.lua walks the module, a model, a data source and a run)
local methods = 0
for k, f in pairs(getmetatable(t).__index) do
  if type(f) == "function" then
    local name = "task:" .. k
    local ok, text = pcall(archlab.help_text, name)
    assert(ok, "no help for " .. name .. ": " .. tostring(text))
    assert(archlab.help_text():find("\n  " .. name, 1, true), "the overview does not list " .. name)
    local ok2, opts = pcall(archlab.options, name)
    if ok2 and #opts > 0 then
      local ok3, err = pcall(f, t, { zz_not_an_option = 1 })
      assert(not ok3 and tostring(err):find("zz_not_an_option", 1, true), name .. " accepted an unknown key")
      for _, o in ipairs(opts) do
        assert(text:find("\n    " .. o .. " ", 1, true), name .. ": help lacks option " .. o)
        local _, e = pcall(f, t, { [o] = function() end })
        assert(not tostring(e):find("unknown field '" .. o .. "'", 1, true), name .. " lists '" .. o .. "' but refuses it")
      end
    end
    methods = methods + 1
  end
end
assert(methods == 5, methods)

-- the checker through the binding (values by hand: tests/test_grpo.c has the full table)
local c = t:check{ prompt = "3+4=", completion = "<think>3+4+0=7</think><answer>7</answer>\n" }
assert(c.accuracy == 1 and c.format == 1 and c.answer == "7" and c.think_length == 7)
c = t:check{ prompt = "3+4=", completion = "<think></think><answer>8</answer>" }
assert(c.accuracy == 0 and c.format == 0 and c.answer == "8" and c.think_length == 0)
local ps = t:problems{ n = 5, split = "train", seed = 3 }
assert(#ps == 5)
for _, p in ipairs(ps) do
  local s = t:check{ prompt = p.prompt, completion = p.solution }
  assert(s.accuracy == 1 and s.format == 1, p.prompt .. p.solution)
  assert(tonumber(p.answer) == load("return " .. p.prompt:sub(1, -2))())
end

-- a corpus is a data source archlab.train takes
local d = t:corpus{ examples = 200, think = 1 }
assert(tostring(d):find("200 demonstrations (100% worked)", 1, true), tostring(d))
archlab.train{ model = m, data = d, steps = 2, batch_size = 2, seq_len = 48, quiet = true }

-- model:clone: the same weights, independent afterwards
local k = m:clone()
local w0 = m:param("lm_head.weight")
assert((k:param("lm_head.weight") - w0):abs():max() == 0)
archlab.train{ model = k, data = d, steps = 1, batch_size = 2, seq_len = 48, quiet = true }
assert((k:param("lm_head.weight") - w0):abs():max() > 0)
assert((m:param("lm_head.weight") - w0):abs():max() == 0)

-- GRPO: the run's fields and series
local run = archlab.grpo{ policy = k, task = t, steps = 2, prompts = 2, group = 3, max_new = 44, eval_n = 5,
                          format_weight = 0.3, quiet = true }
assert(run.steps == 2 and run.flops > 0 and run.final.n == 5 and run.accuracy == run.final.accuracy)
local rw, acc, fmt = run:series("reward"), run:series("accuracy"), run:series("format")
for i = 1, 2 do assert(math.abs(rw.y[i] - (acc.y[i] + 0.3 * fmt.y[i])) < 1e-12) end
rw.y[1] = 99 -- a copy: the run keeps its own
assert(run:series("reward").y[1] ~= 99)
for _, s in ipairs{ "kl", "clip_fraction", "length", "think_length", "loss", "grad_norm", "lr", "flops", "val_accuracy",
                    "val_format", "val_length", "val_think_length" } do
  assert(#run:series(s).x >= 1, s)
end
local ok, err = pcall(function() return run.acuracy end)
assert(not ok and err:find("did you mean 'accuracy'", 1, true), err)

-- distillation: another architecture as the student, the teacher unchanged
local student = archlab.model{ vocab_size = 256, d_model = 16, n_layers = 1, n_heads = 2, d_ff = 32, seq_len = 48,
                               attention = "mla", kv_lora_rank = 8 }
local tw = k:param("lm_head.weight")
local dr = archlab.distill{ teacher = k, student = student, task = t, mode = "logits", filter = false, prompts = 4,
                            steps = 2, batch_size = 2, eval_n = 4, quiet = true }
assert(dr.generated == 4 and dr.kept == 4 and dr.steps == 2 and dr.teacher_flops > 0)
assert(#dr:series("kl").y == 2 and dr.final.n == 4)
assert((k:param("lm_head.weight") - tw):abs():max() == 0)
print(string.format("rl: %d task methods, grpo run of %d steps, distill run of %d steps", methods, run.steps, dr.steps))
