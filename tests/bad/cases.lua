-- The bad-input suite's cases (run by tests/bad/run.lua; `make test` runs it): one class per kind of fault a
-- hostile or careless user finds, each case a script line (lua), a config.json (json) or a command line (cli)
-- with the exit status it must end with (1 unless given) and a pattern its one-line error must hold.
local C = {}
local function lua(class, want, code, exit) C[#C + 1] = { class = class, want = want, lua = code, exit = exit } end
local function json(class, want, text) C[#C + 1] = { class = class, want = want, json = text } end
local function cli(class, want, args, exit) C[#C + 1] = { class = class, want = want, cli = args, exit = exit } end

-- ---- token ids beyond the model's vocabulary: refused where data meets a model ----
local small = "field 'vocab_size' = %d of the model is too small"
local function vocab(v, model, call) lua("vocab", small:format(v), model:format(v) .. " " .. call) end
vocab(2, 'local m = archlab.model{ preset = "tiny", vocab_size = %d }', 'archlab.train{ model = m, data = archlab.data.text(), steps = 2 }')
vocab(255, 'local m = archlab.model{ preset = "tiny", vocab_size = %d }', 'archlab.train{ model = m, data = archlab.data.text(), steps = 2 }')
vocab(10, 'local m = archlab.model{ preset = "tiny", vocab_size = %d }', 'archlab.train{ model = m, data = archlab.data.copy{ alphabet = 8 }, steps = 2 }')
vocab(34, 'local m = archlab.model{ preset = "tiny", vocab_size = %d }', 'archlab.train{ model = m, data = archlab.data.recall{}, steps = 2 }')
vocab(99, 'local m = archlab.model{ preset = "tiny", vocab_size = %d }', 'archlab.train{ model = m, data = archlab.data.niah{}, steps = 2 }')
vocab(100, 'local m = archlab.model{ preset = "tiny", vocab_size = %d }', 'm:evaluate{ data = archlab.data.text() }')
vocab(5, 'local m = archlab.model{ preset = "tiny", vocab_size = %d }', 'm:evaluate{ data = archlab.data.copy{} }')
vocab(200, 'local m = archlab.model{ preset = "tiny", vocab_size = %d }', 'm:evaluate{ data = archlab.data.text(), split = "train" }')
vocab(16, 'local m = archlab.model{ preset = "tiny", vocab_size = %d, residual = "hc" }', 'm:gains{ data = archlab.data.text() }')
vocab(16, 'local m = archlab.model{ preset = "tiny", vocab_size = %d, ffn = "moe" }', 'm:expert_load{ data = archlab.data.text() }')
vocab(3, 'local m = archlab.model{ preset = "tiny", vocab_size = %d, attention = "mla", kv_lora_rank = 16 }', 'archlab.train{ model = m, data = archlab.data.text(), steps = 2 }')
vocab(200, 'local m = archlab.model{ preset = "tiny", vocab_size = %d, residual = "mhc" }', 'archlab.train{ model = m, data = archlab.data.text(), steps = 2 }')
vocab(64, 'local m = archlab.model{ preset = "tiny", vocab_size = %d, ffn = "moe" }', 'archlab.train{ model = m, data = archlab.data.text(), steps = 2 }')
vocab(202, 'local m = archlab.model{ preset = "tiny", vocab_size = %d }', 'archlab.train{ model = m, data = archlab.data.copy{ alphabet = 200 }, steps = 2 }')
vocab(150, 'local m = archlab.model{ preset = "tiny", vocab_size = %d }', 'archlab.train{ model = m, data = archlab.data.recall{ keys = 100 }, steps = 2 }')
vocab(11, 'local m = archlab.model{ preset = "tiny", vocab_size = %d, seq_len = 32 }', 'm:evaluate{ data = archlab.data.recall{ keys = 8, pairs = 4 } }')
vocab(2, 'local m = archlab.model{ preset = "tiny", vocab_size = %d, residual = "mhc" }', 'm:gains{ data = archlab.data.copy{} }')
vocab(8, 'local m = archlab.model{ preset = "tiny", vocab_size = %d, ffn = "moe" }', 'm:expert_load{ data = archlab.data.copy{} }')
vocab(100, 'local m = archlab.model{ preset = "tiny", vocab_size = %d }', 'archlab.train{ model = m, data = archlab.data.text(), steps = 4, eval_every = 2 }')
vocab(50, 'local m = archlab.model{ preset = "tiny", vocab_size = %d }', 'archlab.train{ model = m, data = archlab.data.niah{ keys = 8, values = 8, filler = 40 }, steps = 2 }')
lua("vocab", "model:niah: field 'vocab_size' = 50 of the model is too small",
    'local m = archlab.model{ preset = "tiny", vocab_size = 50 } m:niah{ data = archlab.data.niah{}, lengths = { 32 }, depths = { 0.5 } }')
lua("vocab", "needs a byte-level model", 'local m = archlab.model{ preset = "tiny", vocab_size = 100 } m:generate{ prompt = "hello" }')
lua("vocab", "field 'prompt[2]' must be a token id in [0, 256)", 'local m = archlab.model{ preset = "tiny" } m:generate{ prompt = { 1, 300 } }')
lua("vocab", "field 'prompt[1]' must be a token id in [0, 256)", 'local m = archlab.model{ preset = "tiny" } m:generate{ prompt = { -1 } }')
lua("vocab", "field 'prompt[1]' must be a token id in [0, 256)", 'local m = archlab.model{ preset = "tiny" } m:generate{ prompt = { 1.5 } }')

-- ---- weights and checkpoints: every field checked before use, the model unchanged on failure ----
local W = 'local p, m = B.weights("w.safetensors") '
lua("checkpoint", "shorter than the 8-byte header length", W .. 'B.write(p, "abc") m:load(p)')
lua("checkpoint", "header", W .. 'B.write(p, string.pack("<I8", 10^9) .. "{}") m:load(p)')
lua("checkpoint", "the header is not valid JSON", W .. 'B.header(p, function(h) return h:sub(1, #h // 2) end) m:load(p)')
lua("checkpoint", "data_offsets", W .. 'B.header(p, function(h) return (h:gsub("\\"data_offsets\\":%[(%d+),", "\\"data_offsets\\":[%1.5,", 1)) end) m:load(p)')
lua("checkpoint", "data_offsets", W .. 'B.header(p, function(h) return (h:gsub("\\"data_offsets\\":%[(%d+),(%d+)%]", "\\"data_offsets\\":[%1,99999999]", 1)) end) m:load(p)')
lua("checkpoint", "expected F32", W .. 'B.header(p, function(h) return (h:gsub("\\"F32\\"", "\\"I32\\"", 1)) end) m:load(p)')
lua("checkpoint", "not a finite number", W .. 'B.poke(p, B.offset(p, "lm_head.weight"), string.pack("<f", 0/0)) m:load(p)')
lua("checkpoint", "not a finite number", W .. 'B.poke(p, B.offset(p, "model.norm.weight") + 8, string.pack("<f", 1/0)) m:load(p)')
lua("checkpoint", "differs in 1 field: rope_theta (checkpoint 10000, model 500000)",
    'local p = B.weights("w.safetensors") local m = archlab.model{ preset = "tiny", n_layers = 1, rope_theta = 500000 } m:load(p)')
lua("checkpoint", "norm_eps (checkpoint 1e-06, model 1e-05)",
    'local p = B.weights("w.safetensors") local m = archlab.model{ preset = "tiny", n_layers = 1, norm_eps = 1e-5 } m:load(p)')
lua("checkpoint", "scoring_func (checkpoint \"softmax\", model \"sigmoid\")",
    'local p = B.weights("w.safetensors", { preset = "tiny", n_layers = 1, ffn = "moe" }) local m = archlab.model{ preset = "tiny", n_layers = 1, ffn = "moe", scoring_func = "sigmoid" } m:load(p)')
lua("checkpoint", "d_model (checkpoint 64, model 32)",
    'local p = B.weights("w.safetensors") local m = archlab.model{ preset = "tiny", n_layers = 1, d_model = 32 } m:load(p)')
lua("checkpoint", "differs in 3 fields: n_layers (checkpoint 1, model 2), residual (checkpoint \"residual\", model \"hc\")",
    'local p = B.weights("w.safetensors") local m = archlab.model{ preset = "tiny", residual = "hc" } m:load(p)')
lua("checkpoint", "cannot open '/nonexistent/w.safetensors': No such file or directory", 'local m = archlab.model{ preset = "tiny" } m:load("/nonexistent/w.safetensors")')
lua("checkpoint", "(not a finite number)", 'local d = B.checkpoint("c") local p = d .. "/train_state.safetensors" B.poke(p, B.offset(p, "optimizer.exp_avg.lm_head.weight"), string.pack("<f", 0/0)) archlab.train(B.resume(d))')
lua("checkpoint", "a second moment must be >= 0", 'local d = B.checkpoint("c") local p = d .. "/train_state.safetensors" B.poke(p, B.offset(p, "optimizer.exp_avg_sq.model.norm.weight"), string.pack("<f", -1)) archlab.train(B.resume(d))')
lua("checkpoint", "metadata 'step' = \"two\" is not a count", 'local d = B.checkpoint("c") B.header(d .. "/train_state.safetensors", function(h) return (h:gsub("\\"step\\":\\"2\\"", "\\"step\\":\\"two\\"")) end) archlab.train(B.resume(d))')
lua("checkpoint", "metadata 'step' = \"-2\" is not a count", 'local d = B.checkpoint("c") B.header(d .. "/train_state.safetensors", function(h) return (h:gsub("\\"step\\":\\"2\\"", "\\"step\\":\\"-2\\"")) end) archlab.train(B.resume(d))')
lua("checkpoint", "is not a count in [0, 2147483647]", 'local d = B.checkpoint("c") B.header(d .. "/train_state.safetensors", function(h) return (h:gsub("\\"step\\":\\"2\\"", "\\"step\\":\\"4294967298\\"")) end) archlab.train(B.resume(d))')
lua("checkpoint", "metadata 'optimizer.step' = \"2.0\"", 'local d = B.checkpoint("c") B.header(d .. "/train_state.safetensors", function(h) return (h:gsub("\\"optimizer.step\\":\\"2\\"", "\\"optimizer.step\\":\\"2.0\\"")) end) archlab.train(B.resume(d))')
lua("checkpoint", "rng.state: index", 'local d = B.checkpoint("c") local p = d .. "/train_state.safetensors" B.poke(p, B.offset(p, "rng.state") + 624 * 8, string.pack("<i4", 9999)) archlab.train(B.resume(d))')
lua("checkpoint", "rng.state: all zero", 'local d = B.checkpoint("c") local p = d .. "/train_state.safetensors" B.poke(p, B.offset(p, "rng.state"), string.rep("\\0", 624 * 8)) archlab.train(B.resume(d))')
lua("checkpoint", "no loadable checkpoint", 'local d = B.checkpoint("c") os.remove(d .. "/model.safetensors") archlab.train(B.resume(d))')
lua("checkpoint", "field 'resume': no checkpoint in", 'archlab.train(B.resume(B.dir .. "/nothing-here"))')
lua("checkpoint", "no loadable checkpoint", 'local d = B.checkpoint("c") B.write(d .. "/train_state.safetensors", "garbage") archlab.train(B.resume(d))')

-- ---- corpora: paths, sizes, devices ----
local function text(want, opts) lua("corpus", want, "archlab.data.text{ " .. opts .. " }") end
text("cannot open data path '/nonexistent/corpus.txt'", 'path = "/nonexistent/corpus.txt"')
text("is a device, not a file of text", 'path = "/dev/zero"')
text("is a device, not a file of text", 'path = "/dev/null"')
text("is too small", 'path = B.write(B.dir .. "/tiny.txt", "hello")')
text("is too small", 'path = B.write(B.dir .. "/empty.txt", "")')
text("field 'val_fraction' = 0.9 is out of range", 'val_fraction = 0.9')
text("field 'val_fraction' = 0 is out of range", 'val_fraction = 0')
text("field 'val_fraction' must be a number", 'val_fraction = "0.1"')
text("field 'path' must list 1 to 64 paths", 'path = {}')
text("field 'path[2]' must be a string", 'path = { "/usr/share/games/fortunes", 3 }')
text("unknown field 'paths' (did you mean 'path'?)", 'paths = "x"')
text("cannot open data path", 'path = (function() os.execute("ln -sf /nonexistent/target " .. B.dir .. "/dangling") return B.dir .. "/dangling" end)()')
text("is too small", 'path = (function() os.execute("mkdir -p " .. B.dir .. "/emptydir") return B.dir .. "/emptydir" end)()')
text("field 'path' must be", 'path = 42')
lua("corpus", "field 'alphabet' = 0 is out of range", "archlab.data.copy{ alphabet = 0 }")
lua("corpus", "field 'alphabet' = 1000 is out of range", "archlab.data.copy{ alphabet = 1000 }")
lua("corpus", "field 'keys' = 200 is out of range", "archlab.data.recall{ keys = 200 }")
lua("corpus", "field 'pairs'", "archlab.data.recall{ keys = 4, pairs = 8 }")
lua("corpus", "field 'filler' = 0 is out of range", "archlab.data.niah{ filler = 0 }")
lua("corpus", "field 'values' = 1 is out of range", "archlab.data.niah{ values = 1 }")
lua("corpus", "unknown field 'alphabt' (did you mean 'alphabet'?)", "archlab.data.copy{ alphabt = 8 }")

-- ---- thread counts ----
lua("threads", "is not a thread count in [1, ", "archlab.threads(0)")
lua("threads", "is not a thread count in [1, ", "archlab.threads(-1)")
lua("threads", "is not a thread count in [1, ", "archlab.threads(100000)")
lua("threads", "is not a thread count in [1, ", "archlab.threads(2^31 - 1)")
lua("threads", "number has no integer representation", "archlab.threads(1.5)")
lua("threads", "number expected, got table", "archlab.threads({})")
lua("threads", "number expected, got boolean", "archlab.threads(true)")
lua("threads", "number has no integer representation", "archlab.threads(0/0)")
lua("threads", "number has no integer representation", "archlab.threads(1/0)")
lua("threads", "is not a thread count in [1, ", "archlab.threads(1025)")
cli("threads", "--threads needs a count in [1, ", "--threads 0 tests/lua/ok_args.lua")
cli("threads", "--threads needs a count in [1, ", "--threads -3 tests/lua/ok_args.lua")
cli("threads", "--threads needs a count in [1, ", "--threads 9999 tests/lua/ok_args.lua")
cli("threads", "--threads needs a count in [1, ", "--threads two tests/lua/ok_args.lua")
cli("threads", "--threads needs a count in [1, ", "--threads 2x tests/lua/ok_args.lua")
cli("threads", "--threads needs a count in [1, ", "--threads '' tests/lua/ok_args.lua")
cli("threads", "--threads needs a count in [1, ", "--threads 1.5 tests/lua/ok_args.lua")
cli("threads", "--threads needs a count in [1, ", "--threads 99999999999999999999 tests/lua/ok_args.lua")
cli("threads", "--threads needs a value", "--threads")
cli("threads", "unknown option --thread", "--thread 2 tests/lua/ok_args.lua")

-- ---- fields that have no effect in the chosen configuration; aliases that disagree ----
local function noeff(field, cfg, readers)
  lua("no_effect", "field '" .. field .. "' has no effect", "archlab.model{ preset = 'tiny', " .. cfg .. " }")
end
noeff("kv_lora_rank", "kv_lora_rank = 32")
noeff("q_lora_rank", "attention = 'gqa', n_kv_heads = 2, q_lora_rank = 16")
noeff("qk_rope_head_dim", "attention = 'mqa', qk_rope_head_dim = 8")
noeff("qk_nope_head_dim", "qk_nope_head_dim = 8")
noeff("v_head_dim", "v_head_dim = 8")
noeff("n_kv_heads", "attention = 'mla', kv_lora_rank = 16, n_kv_heads = 2")
noeff("num_key_value_heads", "attention = 'mla', kv_lora_rank = 16, num_key_value_heads = 2")
noeff("n_routed_experts", "n_routed_experts = 8")
noeff("n_shared_experts", "n_shared_experts = 1")
noeff("num_experts_per_tok", "num_experts_per_tok = 2")
noeff("moe_intermediate_size", "moe_intermediate_size = 32")
noeff("scoring_func", "scoring_func = 'sigmoid'")
noeff("norm_topk_prob", "norm_topk_prob = true")
noeff("routed_scaling_factor", "routed_scaling_factor = 2.5")
noeff("n_group", "n_group = 2")
noeff("topk_group", "topk_group = 1")
noeff("topk_method", "topk_method = 'greedy'")
noeff("first_k_dense_replace", "first_k_dense_replace = 1")
noeff("balance", "balance = 'aux'")
lua("no_effect", "field 'streams' = 2 needs residual = \"hc\" or \"mhc\"", "archlab.model{ preset = 'tiny', streams = 2 }")
noeff("sinkhorn_iters", "sinkhorn_iters = 5")
noeff("sinkhorn_iters", "residual = 'hc', sinkhorn_iters = 5")
noeff("hc_dynamic", "hc_dynamic = false")
noeff("gate_init", "gate_init = 0.1")
noeff("h_res", "h_res = false")
noeff("h_pre", "h_pre = false")
lua("no_effect", "name the same setting and were given different values",
    "archlab.model{ preset = 'tiny', attention = 'gqa', n_kv_heads = 2, num_key_value_heads = 1 }")
lua("no_effect", "has no effect with balance = \"none\"", "archlab.model{ preset = 'tiny', ffn = 'moe', aux_alpha = 0.01 }")
lua("no_effect", "has no effect with balance = \"aux\"", "archlab.model{ preset = 'tiny', ffn = 'moe', balance = 'aux', bias_gamma = 0.01 }")
lua("no_effect", "field 'device_alpha' = 0.01 needs n_group > 1", "archlab.model{ preset = 'tiny', ffn = 'moe', balance = 'aux', device_alpha = 0.01 }")

-- ---- training options: one rule each, named ----
local T = 'archlab.train{ model = archlab.model{ preset = "tiny" }, data = archlab.data.copy{}, quiet = true, '
local function topt(want, opts) lua("train_options", want, T .. opts .. " }") end
topt("field 'steps' = 0 must be >= 1", "steps = 0")
topt("field 'steps' = -5 is out of range", "steps = -5")
topt("field 'min_lr' = 0.1 is above lr = 0.01", "steps = 2, lr = 0.01, min_lr = 0.1")
topt("field 'checkpoint_every' = 2 needs field 'checkpoint'", "steps = 4, checkpoint_every = 2")
topt("field 'stop_at' = 9 is beyond steps = 4", "steps = 4, stop_at = 9")
topt("field 'lr' must be a finite number", "steps = 2, lr = 0/0")
topt("field 'lr' = 1000 is out of range", "steps = 2, lr = 1000")
topt("field 'lr' must be a number, got string", "steps = 2, lr = '3e-3'")
topt("unknown field 'learning_rate'", "steps = 2, learning_rate = 1e-3")
topt("unknown field 'stesp' (did you mean 'steps'?)", "stesp = 2")
topt("field 'batch_size' = 0 is out of range", "steps = 2, batch_size = 0")
topt("field 'batch_size' must be an integer", "steps = 2, batch_size = 2.5")
topt("field 'seq_len' = 1000 must be in [1, model seq_len = 64]", "steps = 2, seq_len = 1000")
topt("field 'seq_len' = 4 is too short", "steps = 2, seq_len = 4")
topt("field 'schedule' = \"linear\" is not one of constant|cosine|step", "steps = 2, schedule = 'linear'")
topt("field 'beta1' = 1 is out of range", "steps = 2, beta1 = 1")
topt("field 'eval_batches' = 0 is out of range", "steps = 2, eval_batches = 0")
topt("field 'log_every' = 0 is out of range", "steps = 2, log_every = 0")
topt("field 'resume' = true needs field 'checkpoint'", "steps = 2, resume = true")
topt("field 'resume' must be a directory or true, got number", "steps = 2, resume = 3")
topt("field 'quiet' must be true or false", "steps = 2, quiet = 1")
topt("field 'weight_decay' = -1 is out of range", "steps = 2, weight_decay = -1")
topt("cannot write metrics file '/proc/m.jsonl'", "steps = 2, metrics = '/proc/m.jsonl'")
lua("train_options", "field 'model' is required", "archlab.train{ data = archlab.data.copy{}, steps = 2 }")
lua("train_options", "field 'data' must be an archlab.data source, got string", "archlab.train{ model = archlab.model{ preset = 'tiny' }, data = 'text', steps = 2 }")

-- ---- Hugging Face config.json, read strictly ----
local ok = '"vocab_size": 256, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128'
local function hf(want, text) json("hf_json", want, text) end
hf("field 'hidden_size' is null (it is required)", '{"vocab_size": 256, "hidden_size": null, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}')
hf("field 'num_hidden_layers': must be a number, got a boolean", '{"vocab_size": 256, "hidden_size": 64, "num_hidden_layers": true, "num_attention_heads": 4, "intermediate_size": 128}')
hf("not a valid JSON object", "{" .. ok .. "} trailing")
hf("not a valid JSON object", "{" .. ok .. "}{" .. ok .. "}")
hf("an empty key", '{"": 1, ' .. ok .. "}")
hf("a key that is not valid UTF-8", '{"\255\254": 1, ' .. ok .. "}")
hf("a key that is not valid UTF-8", '{"\192\128": 1, ' .. ok .. "}")
hf("missing field 'hidden_size'", '{"vocab_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}')
hf("not a valid JSON object", "[1, 2, 3]")
hf("empty file", "")
hf("not a valid JSON object", "{" .. ok)
hf("field 'hidden_size': must be a number, got a string", '{"vocab_size": 256, "hidden_size": "64", "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}')
hf("field 'd_model' = -64 is out of range", '{"vocab_size": 256, "hidden_size": -64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}')
hf("field 'n_layers' must be an integer, got 2.5", '{"vocab_size": 256, "hidden_size": 64, "num_hidden_layers": 2.5, "num_attention_heads": 4, "intermediate_size": 128}')
hf("field 'vocab_size' = 1e+30 is out of range", '{"vocab_size": 1e30, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}')
hf("field 'hidden_act': only \"silu\"", "{" .. ok .. ', "hidden_act": "gelu"}')
hf("tied embeddings are not built", "{" .. ok .. ', "tie_word_embeddings": true}')
hf("attention biases are not built", "{" .. ok .. ', "attention_bias": true}')
hf("field 'moe_layer_freq' = 2", "{" .. ok .. ', "n_routed_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 32, "moe_layer_freq": 2}')
hf("field 'scoring_func': must be a string, got a number", "{" .. ok .. ', "n_routed_experts": 8, "num_experts_per_tok": 2, "scoring_func": 1}')
hf("field 'norm_topk_prob' must be true or false", "{" .. ok .. ', "n_routed_experts": 8, "num_experts_per_tok": 2, "norm_topk_prob": 1}')
hf("field 'num_key_value_heads' must be a number", "{" .. ok .. ', "num_key_value_heads": "2"}')
hf("a NUL byte inside the file", "{" .. ok .. "}\0")
-- a config.json as a script's preset: the same strict reader, the error naming the call and the file
lua("hf_json", "archlab.model: field 'preset': cannot open '/nonexistent/c.json'", "archlab.model{ preset = '/nonexistent/c.json' }")
lua("hf_json", "/t.json:1: not a valid JSON object", "archlab.cost{ preset = B.write(B.dir .. '/t.json', '{\"vocab_size\": 2') }")
lua("hf_json", "is not a preset name (nor a .lua or .json file)", "archlab.model{ preset = 'v2 lite' }")
lua("hf_json", "presets nested more than 8 deep", "archlab.model{ preset = B.write(B.dir .. '/self.lua', 'return { preset = \"' .. B.dir .. '/self.lua\" }') }")
lua("hf_json", "field 'preset' is empty", "archlab.model{ preset = '' }")
hf("field 'scoring_func' = \"relu\" is not one of softmax|sigmoid", "{" .. ok .. ', "n_routed_experts": 8, "num_experts_per_tok": 2, "scoring_func": "relu"}')

-- ---- command lines, parsed strictly ----
cli("cli", "--context 'abc' must be a whole number", "summary tiny --context abc")
cli("cli", "--context '-5' must be a whole number", "summary tiny --context -5")
cli("cli", "--batch '99999999999' must be a whole number", "summary tiny --batch 99999999999")
cli("cli", "--batch '0' must be a whole number", "summary tiny --batch 0")
cli("cli", "--batch '1e3' must be a whole number", "summary tiny --batch 1e3")
cli("cli", "--context needs a value", "summary tiny --context")
cli("cli", "one configuration at a time", "summary tiny small")
cli("cli", "unknown option --jsn", "summary tiny --jsn")
cli("cli", "archlab summary: no configuration given", "summary")
cli("cli", "no preset named 'tinny'", "summary tinny")
cli("cli", "--context 5000 exceeds seq_len = 64", "summary tiny --context 5000")
cli("cli", "cannot open '/nonexistent/config.json'", "summary /nonexistent/config.json")
cli("cli", "unknown option --verbose", "--verbose tests/lua/ok_args.lua")
cli("cli", "cannot open", "/nonexistent/script.lua")
cli("cli", "archlab plot: no metrics file given", "plot")
cli("cli", "cannot open", "plot /nonexistent/m.jsonl --y loss -o /tmp/archlab_bad/p.png")
cli("cli", "unknown option", "plot tests/fixtures/deepseek-v3-config.json --bogus")
cli("cli", "must return a table", "summary tests/bad/prelude.lua")
cli("cli", "archlab: no script given", "")
cli("cli", "archlab help: no topic 'trian' (did you mean 'train'?)", "help trian")
cli("cli", "archlab help: one topic at most", "help train lr")
cli("cli", "no topic 'clip'", "help clip")
cli("cli", "archlab summary: --batch needs a value", "summary tiny --batch")
cli("cli", "no preset named 'tinny'", "summary tests/bad/preset_typo.lua")

-- ---- sizes that overflow or cannot fit: refused, never wrapped ----
local function cost(want, cfg) lua("cost", want, "archlab.cost{ " .. cfg .. " }") end
cost("more than one forward pass can count", "preset = 'deepseek-v3', context = 163840, batch = 1048576")
cost("field 'batch' = 3.35544e+07 is out of range", "preset = 'tiny', context = 64, batch = 1048576 * 32")
cost("field 'batch' = 1e+12 is out of range", "preset = 'tiny', batch = 1e12")
cost("field 'context' = 100 is longer than seq_len = 64", "preset = 'tiny', context = 100")
cost("too large to count", "d_model = 2^20, n_layers = 4096, n_heads = 4096, vocab_size = 2^24, d_ff = 2^22, ffn = 'moe', n_routed_experts = 65536, num_experts_per_tok = 8, moe_intermediate_size = 2^22")
cost("more than one forward pass can count", "preset = 'deepseek-v3', context = 4096, batch = 1048576")
lua("cost", "model too large for this machine", "archlab.model{ d_model = 65536, n_layers = 64, n_heads = 64, d_ff = 262144 }")
lua("cost", "model too large for this machine", "archlab.model{ preset = 'deepseek-v3' }")
lua("cost", "needs", "local m = archlab.model{ preset = 'small' } m:evaluate{ data = archlab.data.text(), batch_size = 1048576 }")
lua("cost", "KV cache", "local m = archlab.model{ preset = 'tiny', seq_len = 4194304 } m:kv_cache{ context = 4194304, batch = 65536 }")
cli("cost", "more than one forward pass can count", "summary deepseek-v3 --context 163840 --batch 1048576")
cli("cost", "more than one forward pass can count", "summary mhc-27b --context 4096 --batch 1048576")
lua("cost", "field 'd_model' = 1e+07 is out of range", "archlab.cost{ d_model = 1e7 }")
lua("cost", "field 'n_layers' = 5000 is out of range", "archlab.cost{ n_layers = 5000 }")
lua("cost", "field 'vocab_size' = 1e+08 is out of range", "archlab.cost{ vocab_size = 1e8 }")
lua("cost", "field 'n_routed_experts' = 100000 is out of range", "archlab.cost{ ffn = 'moe', n_routed_experts = 100000 }")
lua("cost", "field 'seq_len' = 1e+09 is out of range", "archlab.cost{ seq_len = 1e9 }")
lua("cost", "field 'd_ff' = 1e+09 is out of range", "archlab.cost{ d_ff = 1e9 }")
lua("cost", "field 'n_heads' = 100000 is out of range", "archlab.cost{ n_heads = 100000 }")
lua("cost", "field 'streams' = 16 is out of range", "archlab.cost{ residual = 'mhc', streams = 16 }")

-- ---- config values: types, NaN, infinities, ranges, lengths ----
local function field(want, cfg) lua("config_values", want, "archlab.model{ " .. cfg .. " }") end
field("field 'd_model' must be a finite number", "d_model = 0/0")
field("field 'd_model' must be a finite number", "d_model = 1/0")
field("field 'rope_theta' must be a finite number", "rope_theta = -1/0")
field("field 'd_model' must be a number, got a string", "d_model = '64'")
field("field 'd_model' must be an integer, got 64.5", "d_model = 64.5")
field("field 'n_layers' = 0 is out of range", "n_layers = 0")
field("field 'n_heads' = 5 does not divide d_model = 64", "d_model = 64, n_heads = 5")
field("field 'attention' = \"flash\" is not one of mha|gqa|mqa|mla", "attention = 'flash'")
field("field 'residual' = \"HC\" is not one of residual|hc|mhc", "residual = 'HC'")
field("field 'ffn' = \"mlp\" is not one of dense|moe", "ffn = 'mlp'")
field("field 'attention' must be a string, got a number", "attention = 1")
field("field 'hc_dynamic' must be true or false, got number", "residual = 'hc', hc_dynamic = 1")
field("is not one of softmax|sigmoid", "ffn = 'moe', scoring_func = string.rep('x', 40)")
field("config keys must be names", "{ 1, 2 }")
field("unknown field 'n_head' (did you mean 'n_heads'?)", "n_head = 4")
field("unknown field 'hidden_size'", "hidden_size = 64")
field("field 'head_dim' = 7 must be even for RoPE", "head_dim = 7")
field("field 'kv_lora_rank' = 0 must be > 0 with attention = \"mla\"", "attention = 'mla'")
field("field 'num_experts_per_tok' = 9 exceeds n_routed_experts = 8", "ffn = 'moe', num_experts_per_tok = 9")
field("field 'n_group' = 3 does not divide n_routed_experts = 8", "ffn = 'moe', n_group = 3")
field("field 'preset' = \"../x\" is not a preset name", "preset = '../x'")
field("no preset named 'nope'", "preset = 'nope'")
field("field 'seed' = -1 is out of range", "seed = -1")
field("field 'n_kv_heads' = 3 differs from n_heads = 4 with attention = \"mha\"", "n_kv_heads = 3")

-- ---- sweeps ----
local S = 'archlab.sweep{ dir = B.dir .. "/sw", data = archlab.data.copy{}, base = { preset = "tiny" }, train = { steps = 2, quiet = true }, '
local function sweep(want, rest) lua("sweeps", want, S .. rest .. " }") end
sweep("unknown field 'vry' (did you mean 'vary'?)", "vry = { lr = { 1e-3 } }")
sweep("field 'vary' must map keys to lists of values", "vary = {}")
sweep("field 'vary.lr' must be a non-empty list", "vary = { lr = {} }")
sweep("field 'vary.lr' must be a non-empty list", "vary = { lr = 1e-3 }")
sweep("field 'vary.lr' lists 0.001 twice", "vary = { lr = { 1e-3, 1e-3 } }")
sweep("unknown field 'vary.n_laers' (did you mean 'n_layers'?)", "vary = { n_laers = { 1 } }")
sweep("archlab.model: field 'n_layers' = 0 is out of range", "vary = { n_layers = { 0 } }")
sweep("archlab.train: field 'lr' = 1000 is out of range", "vary = { lr = { 1000 } }")
sweep("unknown field 'vary.stesp' (did you mean 'steps'?)", "vary = { stesp = { 2 } }")
sweep("unknown field 'train.clip' (did you mean 'grad_clip'?)", "vary = { lr = { 1e-3 } }, train = { clip = 1 }")
sweep("unknown field 'base.d_modle' (did you mean 'd_model'?)", "vary = { lr = { 1e-3 } }, base = { d_modle = 8 }")
sweep("field 'train.metrics' is set by the sweep for each run", "vary = { lr = { 1e-3 } }, train = { metrics = 'x' }")
sweep("field 'train' must be a table, got number", "vary = { lr = { 1e-3 } }, train = 5")
lua("sweeps", "field 'dir' (a directory for the runs) is required", "archlab.sweep{ data = archlab.data.copy{}, vary = { lr = { 1 } } }")
lua("sweeps", "field 'data' is required", "archlab.sweep{ dir = B.dir, vary = { lr = { 1 } } }")
lua("sweeps", "expects a table of options", "archlab.sweep('x')")
lua("sweeps", "unknown field 'dats' (did you mean 'data'?)", "archlab.sweep{ dir = B.dir, dats = 1 }")
sweep("archlab.model: field 'attention' = \"flash\" is not one of", "vary = { attention = { 'flash' } }")
sweep("has no effect", "vary = { kv_lora_rank = { 16 } }")
sweep("archlab.train: field 'batch_size' = 0 is out of range", "vary = { batch_size = { 0 } }")
sweep("archlab.train: field 'min_lr' = 0.5 is above lr = 0.001", "vary = { min_lr = { 0.5 } }")
sweep("field 'vary.seed' lists 1 twice", "vary = { seed = { 1, 2, 1 } }")
sweep("archlab.model: field 'seed' = -1 is out of range", "vary = { seed = { -1 } }")
sweep("archlab.train: field 'schedule' = \"linear\"", "vary = { schedule = { 'linear' } }")

-- ---- tensors: shapes, indices, types, files (archlab.tensor) ----
local function tens(want, code) lua("tensors", want, "local T = archlab.tensor; local a = T.from{ { 1, 2, 3 }, { 4, 5, 6 } }; " .. code) end
tens("index 3 is outside dimension 1 of size 2", "return a[{ 3, 1 }]")
tens("indices count from 1", "return a[{ 0, 1 }]")
tens("index -4 is outside dimension 2 of size 3", "return a[{ 1, -4 }]")
tens("3 indices for a tensor of 2 dimensions", "return a[{ 1, 1, 1 }]")
tens("range {3, 2} of dimension 2 runs backwards", "return a[{ 1, { 3, 2 } }]")
tens("index 1 must be a number or a range", "return a[{ 'x' }]")
tens("give every index (2) to set one element", "a[{ 1 }] = 0")
tens("shapes [2, 3] and [2] do not broadcast", "return a + T.from{ 1, 2 }")
tens("inner sizes differ (3 against 2)", "return a:matmul(a)")
tens("matmul takes 1- or 2-dimensional tensors", "return T.zeros(2, 2, 2):matmul(a)")
tens("[2] has 1 entries where the first has 2", "return T.from{ { 1, 2 }, { 3 } }")
tens("[1][2] is a string, not a number", "return T.from{ { 1, 'x' } }")
tens("dtype 'f16' is not \"f32\" or \"f64\"", "return T.zeros({ 2 }, 'f16')")
tens("more than 2^40 elements is refused", "return T.zeros(1048576, 1048576, 2)")
tens("dimension 1 has a negative size", "return T.zeros(-1)")
tens("axis 0 does not exist", "return a:sum(0)")
tens("reshape: 6 elements into a shape of 4", "return a:reshape(2, 2)")
tens("did you mean 'reshape'", "return a.reshap")
tens("cannot open '/nonexistent/t.npy'", "return T.load('/nonexistent/t.npy')")
tens("not a .npy file", "return T.load(B.write(B.dir .. '/bad.npy', 'hello world'))")
tens("truncated: the header promises 24 bytes", "T.save(B.dir .. '/t.npy', a); local s = B.read(B.dir .. '/t.npy'); return T.load(B.write(B.dir .. '/cut.npy', s:sub(1, #s - 4)))")
tens("is not a .npy or .safetensors file", "return T.load(B.dir .. '/t.csv')")
tens("d.npy' exists and is not a regular file (a directory)", "os.execute('mkdir -p ' .. B.dir .. '/d.npy'); return T.save(B.dir .. '/d.npy', a)")
tens("a .npy file holds one tensor", "return T.save(B.dir .. '/x.npy', { a = a })")
tens("the tensor has 6 elements, not one", "return a:item()")
tens("tensor 'w' is I64 (F32 and F64 are read)", "local st = B.dir .. '/i.safetensors'; local h = '{\"w\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}'; B.write(st, string.pack('<I8', #h) .. h .. string.rep('\\0', 8)); return T.load(st)")

-- ---- signals: a script stopped by SIGINT/SIGTERM exits 130, whatever it runs (the signal comes 0.3 s in,
-- from a child shell; tests/test_cli.c has the same for longer runs) ----
local busy = {
  "while true do end",
  "local m = archlab.model{ preset = 'tiny' } m:evaluate{ data = archlab.data.copy{}, batches = 1000000 }",
  "local m = archlab.model{ preset = 'tiny', seq_len = 4096 } for i = 1, 100 do m:generate{ prompt = 'x', n = 4095 } end",
  "local m = archlab.model{ preset = 'tiny' } local l = {} for i = 1, 64 do l[i] = 64 end m:niah{ data = archlab.data.niah{}, lengths = l, depths = { 0, 0.5, 1 }, trials = 256 }",
  "archlab.train{ model = archlab.model{ preset = 'tiny' }, data = archlab.data.copy{}, steps = 1000000, quiet = true, checkpoint = B.dir .. '/sigck' }",
  "archlab.sweep{ dir = B.dir .. '/sigsw', data = archlab.data.copy{}, base = { preset = 'tiny' }, train = { steps = 1000000, quiet = true }, vary = { lr = { 1e-3 } }, quiet = true }",
  "local s = '' while true do s = string.rep('x', 1000) .. s:sub(1, 1000) end",
  "while true do local m = archlab.model{ preset = 'tiny' } end",
  "while true do archlab.plot.lines{ file = B.dir .. '/sig.png', series = { y = { 1, 2, 3 } } } end",
  "local m = archlab.model{ preset = 'tiny', residual = 'mhc' } while true do m:gains{ data = archlab.data.copy{} } end",
}
for _, sig in ipairs{ "INT", "TERM" } do
  for _, code in ipairs(busy) do
    lua("signals", "archlab: interrupted",
        'os.execute("(sleep 0.3; kill -' .. sig .. ' " .. io.open("/proc/self/stat"):read("n") .. ") &") ' .. code, 130)
  end
end

return C
