-- archlab.tensor from Lua (tests/test_cli.c runs this): indexing from 1, negative indices, ranges, views that
-- share storage, arithmetic with broadcasting, reductions along axes, matmul, and the two file formats round
-- trip. Expected values are worked by hand in the comments.
local T = archlab.tensor
local dir = arg[1] or "/tmp"
local a = T.from{ { 1, 2, 3 }, { 4, 5, 6 } }
assert(a.ndim == 2 and a.shape[1] == 2 and a.shape[2] == 3 and a.dtype == "f32" and #a == 2 and a:numel() == 6)
assert(a[{ 1, 1 }] == 1 and a[{ 2, 3 }] == 6 and a[{ -1, -1 }] == 6 and a[{ 1, -3 }] == 1)
-- a row, a column, a block: views
assert(a[2]:sum() == 15 and a[{ {}, 2 }]:sum() == 7 and a[{ { 1, 2 }, { 2 } }]:sum() == 2 + 3 + 5 + 6)
local row = a[1]
row[{ 2 }] = 20                                     -- writes through to a
assert(a[{ 1, 2 }] == 20)
a[{ 1, 2 }] = 2
-- reductions: sum 21, column sums 5 7 9, row means 2 and 5, max 6, L2 norm sqrt(91)
assert(a:sum() == 21 and a:mean() == 3.5 and a:max() == 6 and a:min() == 1)
local cs = a:sum(1)
assert(cs.shape[1] == 3 and cs[{ 1 }] == 5 and cs[{ 3 }] == 9)
assert(a:mean(2)[{ 2 }] == 5 and a:mean(-1)[{ 1 }] == 2)
assert(math.abs(a:norm() - math.sqrt(91)) < 1e-6)
-- arithmetic: broadcasting a row, scalars on either side, unary minus
local b = T.from{ 10, 20, 30 }
local s = a + b
assert(s[{ 2, 3 }] == 36 and s[{ 1, 1 }] == 11)
assert((2 * a)[{ 2, 2 }] == 10 and (a - 1)[{ 1, 1 }] == 0 and (1 / T.from{ 4 })[{ 1 }] == 0.25 and (-a)[{ 2, 1 }] == -4)
assert((a * a):sum() == 91 and (a / a):mean() == 1)
-- matmul: a a^T = [[14, 32], [32, 77]]; a dot product
local g = a:matmul(a:T())
assert(g.shape[1] == 2 and g[{ 1, 1 }] == 14 and g[{ 1, 2 }] == 32 and g[{ 2, 2 }] == 77)
assert(b:matmul(b) == 1400 and a:T()[{ 3, 1 }] == 3)
-- shapes and types
local r = a:reshape(3, 2)
assert(r[{ 3, 1 }] == 5 and a:reshape{ -1 }.shape[1] == 6)
assert(a:astype("f64").dtype == "f64" and (a + T.from({ 1 }, "f64")).dtype == "f64")
assert(T.zeros(2, 3):sum() == 0 and T.ones({ 4 }, "f64"):sum() == 4 and T.arange(5):sum() == 10)
assert(T.from(2.5):item() == 2.5 and T.from(2.5).ndim == 0)
local t = a:table()
assert(#t == 2 and #t[1] == 3 and t[2][3] == 6)
assert(a:abs():sum() == 21 and math.abs(T.from{ 0 }:exp():item() - 1) < 1e-7 and T.from{ 9 }:sqrt():item() == 3)
-- files: .npy and .safetensors round trips, exact
a:save(dir .. "/a.npy")
local back = T.load(dir .. "/a.npy")
assert(back.dtype == "f32" and back.shape[2] == 3 and (back - a):abs():max() == 0)
local x64 = T.from({ 0.1, 1e300, -2 }, "f64")
T.save(dir .. "/two.safetensors", { a = a, x = x64 })
local m = T.load(dir .. "/two.safetensors")
assert(m.a[{ 2, 3 }] == 6 and m.x.dtype == "f64" and m.x[{ 1 }] == 0.1 and m.x[{ 2 }] == 1e300)
-- errors: clear, naming what is wrong
local function fails(f, want)
  local ok, err = pcall(f)
  assert(not ok and tostring(err):find(want, 1, true), tostring(err))
end
fails(function() return a[{ 3, 1 }] end, "index 3 is outside dimension 1 of size 2")
fails(function() return a[{ 0 }] end, "indices count from 1")
fails(function() return a[{ 1, 2, 3 }] end, "3 indices for a tensor of 2 dimensions")
fails(function() return a + T.from{ 1, 2 } end, "shapes [2, 3] and [2] do not broadcast")
fails(function() return a:matmul(a) end, "inner sizes differ (3 against 2)")
fails(function() return T.from{ { 1, 2 }, { 3 } } end, "[2] has 1 entries where the first has 2")
fails(function() return T.from{ { 1, "x" } } end, "[1][2] is a string, not a number")
fails(function() return a:sum(3) end, "axis 3 does not exist")
fails(function() return a.shap end, "did you mean 'shape'")
fails(function() a[{ 1 }] = 5 end, "give every index (2)")
fails(function() return T.load(dir .. "/nope.npy") end, "cannot open")
fails(function() return T.save(dir .. "/a.txt", a) end, ".npy or .safetensors")
fails(function() return a:astype("f16") end, "dtype 'f16'")
-- plots take tensors where they take lists and rows: the same figure, byte for byte
local rows = { { 0.1, 0.9, 0.3 }, { 0.5, 0.5, 0.7 } }
archlab.plot.heatmap{ file = dir .. "/h_table.png", values = rows }
archlab.plot.heatmap{ file = dir .. "/h_tensor.png", values = T.from(rows, "f64") } -- f64: 0.1 exactly as Lua has it
archlab.plot.lines{ file = dir .. "/l_table.png", series = { { x = { 1, 2, 3 }, y = { 3, 1, 2 } } } }
archlab.plot.lines{ file = dir .. "/l_tensor.png", series = { { x = T.arange(3) + 1, y = T.from{ 3, 1, 2 } } } }
local function bytes(f) local h = assert(io.open(f, "rb")) local s = h:read("a") h:close() return s end
assert(bytes(dir .. "/h_table.png") == bytes(dir .. "/h_tensor.png"), "heatmap from a tensor")
assert(bytes(dir .. "/l_table.png") == bytes(dir .. "/l_tensor.png"), "lines from tensors")
fails(function() archlab.plot.heatmap{ file = dir .. "/x.png", values = T.arange(3) } end, "expected a 2-dimensional tensor")

-- a model's parameters as tensors: copies by Hugging Face name; set_param checks the shape
local m = archlab.model{ preset = "tiny" }
local names = m:param_names()
assert(names[1] == "model.embed_tokens.weight" and #names > 10)
local head = m:param("lm_head.weight")
assert(head.shape[1] == 256 and head.shape[2] == 64 and head.dtype == "f32")
head[{ 1, 1 }] = 1000                                  -- a copy: the model is unchanged
assert(m:param("lm_head.weight")[{ 1, 1 }] ~= 1000)
assert(m:grad("lm_head.weight"):abs():sum() == 0)      -- no backward yet
-- zero output weights give uniform logits: every token's loss is ln 256 (hand math)
m:set_param("lm_head.weight", T.zeros(256, 64))
local d = archlab.data.copy{ alphabet = 8 }
assert(math.abs(m:evaluate{ data = d, batches = 1 } - math.log(256)) < 1e-5)
-- after one training step the gradient is the clipped one: its norm is at most grad_clip = 1
archlab.train{ model = m, data = d, steps = 1, quiet = true }
local gn = m:grad("lm_head.weight"):norm()
assert(gn > 0 and gn <= 1 + 1e-5, gn)
fails(function() m:set_param("lm_head.weight", T.zeros(64, 256)) end, "the tensor has shape [64, 256], parameter 'lm_head.weight' has [256, 64]")
fails(function() return m:param("lm_head.weigth") end, "did you mean 'lm_head.weight'")
local bad = T.zeros(256, 64); bad[{ 3, 3 }] = 0 / 0
fails(function() m:set_param("lm_head.weight", bad) end, "not finite")
print("tensor api ok")
