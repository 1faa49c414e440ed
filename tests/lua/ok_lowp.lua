-- archlab.lowp from Lua (tests/test_lowp.c runs this): rounding, tile quantization and the simulated FP8 GEMM
-- on hand-worked values, and errors that name the function and the field.
local T, lp = archlab.tensor, archlab.lowp
local function near(x, y, tol) return math.abs(x - y) <= tol end
local function fails(pattern, f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok and tostring(err):find(pattern, 1, true), "expected an error with '" .. pattern .. "', got " .. tostring(err))
end

-- E4M3: 1.1 lies between 1 and 1.125 (step 1/8 in [1, 2)); 300 between 288 and 320 (step 32); 1e5 saturates at
-- 448; 0.3 -> 0.3125 (step 1/32 in [0.25, 0.5)); 2^-11 is under half the smallest subnormal 2^-9: 0
local r = lp.round(T.from{ 1.1, -300, 1e5, 0.3, 2 ^ -11 }, "e4m3")
assert(r[{ 1 }] == 1.125 and r[{ 2 }] == -288 and r[{ 3 }] == 448 and r[{ 4 }] == 0.3125 and r[{ 5 }] == 0 and r.dtype == "f32")
-- E5M2: 1.1 -> 1 (step 1/4), 60000 -> 57344 (its largest); BF16: 1 + 2^-8 is a tie (to 1), 1 + 3 * 2^-8 one too (to 1 + 2^-6)
r = lp.round(T.from({ 1.1, 60000, -1 / 0 }, "f64"), "e5m2")
assert(r[{ 1 }] == 1 and r[{ 2 }] == 57344 and r[{ 3 }] == -57344 and r.dtype == "f64")
r = lp.round(T.from{ 1 + 2 ^ -8, 1 + 3 * 2 ^ -8 }, "bf16")
assert(r[{ 1 }] == 1 and r[{ 2 }] == 1 + 2 ^ -6)

-- tiles of 1 x 2: {3.5, 1.1} has scale 3.5 / 448 = 1/128 and q = 448, 140.8 -> 144 (step 16), so 1.1 -> 1.125;
-- {0, 0} scale 1; {-448, 0.3} scale 1; {1e-3, 2} scale 2 / 448, q = 0.224 -> 0.21875 (step 1/64)
local x = T.from{ { 3.5, 1.1, 0, 0 }, { -448, 0.3, 1e-3, 2 } }
local d, s, q = lp.quantize(x, { format = "e4m3", tile = { 1, 2 } })
assert(d[{ 1, 1 }] == 3.5 and d[{ 1, 2 }] == 1.125 and d[{ 1, 3 }] == 0 and d[{ 2, 1 }] == -448 and d[{ 2, 2 }] == 0.3125)
assert(near(d[{ 2, 3 }], 0.21875 * 2 / 448, 1e-9) and near(d[{ 2, 4 }], 2, 1e-6))
assert(s.shape[1] == 2 and s.shape[2] == 2 and s[{ 1, 1 }] == 1 / 128 and s[{ 1, 2 }] == 1 and s[{ 2, 1 }] == 1)
assert(near(s[{ 2, 2 }], 2 / 448, 1e-9) and q[{ 1, 2 }] == 144 and q[{ 2, 3 }] == 0.21875)
-- one scale for the tensor: amax 448, scale 1, so 1e-3 is a subnormal: 0.512 steps of 2^-9, rounded to one step;
-- the default tile {1, 128} over 130 columns: two tiles a row
d, s = lp.quantize(x, { tile = "tensor" })
assert(s.shape[1] == 1 and s.shape[2] == 1 and s[{ 1, 1 }] == 1 and d[{ 1, 2 }] == 1.125 and d[{ 2, 3 }] == 2 ^ -9)
d, s = lp.quantize(T.ones(130))
assert(s.ndim == 1 and s.shape[1] == 2 and d:sum() == 130)

-- the GEMM: a per tensor has scale 3.5 / 448 = 1/128 (q = 128, 256, 64, 448, all exact), b = I has q = 448 I;
-- c = a I^T = a, up to the rounding of the scales' product
local a = T.from{ { 1, 2 }, { 0.5, 3.5 } }
local c = lp.matmul(a, T.from{ { 1, 0 }, { 0, 1 } }, { tile_a = "tensor", tile_b = "tensor", promote_every = 0 })
assert(c.shape[1] == 2 and c.shape[2] == 2)
for i = 1, 2 do for j = 1, 2 do assert(near(c[{ i, j }], a[{ i, j }], 1e-6)) end end
-- 14-bit accumulation promoted every 128 stays near the exact product of the dequantized operands
local A, B = {}, {}
for i = 1, 4 do A[i], B[i] = {}, {} for k = 1, 512 do A[i][k] = math.sin(i * k) + 1.5 B[i][k] = math.cos(i + k) + 1.5 end end
A, B = T.from(A), T.from(B)
local qa = lp.quantize(A)
local qb = lp.quantize(B, { tile = { 128, 128 } })
local exact = qa:matmul(qb:T())
c = lp.matmul(A, B, { accum_bits = 14, promote_every = 128 })
assert(((c - exact):abs() / exact):max() < 1e-3)
local full = lp.matmul(A, B, { accum_bits = 0 })
assert(((full - exact):abs() / exact):max() < 1e-5)

-- errors name the function and the field
fails("archlab.lowp.round: argument 2 (format): 'e3m4' is not a format (did you mean 'e4m3'?)", lp.round, a, "e3m4")
fails("archlab.lowp.round: argument 1 must be a tensor", lp.round, 3, "e4m3")
fails("archlab.lowp.quantize: unknown field 'formt' (did you mean 'format'?)", lp.quantize, a, { formt = "e4m3" })
fails("archlab.lowp.quantize: field 'tile' must be {rows, cols}", lp.quantize, a, { tile = { 1 } })
fails("archlab.lowp.quantize: field 'tile'[2] must be a tile size", lp.quantize, a, { tile = { 1, -3 } })
fails("archlab.lowp.quantize: field 'format'", lp.quantize, a, { format = "fp8" })
fails("archlab.lowp.matmul: b is (2, 3) where a is (2, 2)", lp.matmul, a, T.zeros(2, 3))
fails("archlab.lowp.matmul: promote_every: 0 (never promote)", lp.matmul, A, B, { promote_every = 0 })
fails("archlab.lowp.matmul: field 'accum_bits'", lp.matmul, a, a, { accum_bits = 30 })
fails("archlab.lowp.matmul: field 'accum_round'", lp.matmul, a, a, { accum_round = "up" })
fails("archlab.lowp.matmul: a must have 2 dimensions", lp.matmul, T.ones(3), a)
print("lowp ok")
