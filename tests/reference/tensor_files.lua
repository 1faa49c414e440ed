-- make crosscheck, part 3: archlab.tensor writes .npy and .safetensors files and, beside them, the same values
-- as plain JSON written here from the Lua tables (not from the tensors); tests/reference/check_tensor_files.py
-- reads the files with its own parser of the two formats and compares.
-- Usage: bin/archlab tests/reference/tensor_files.lua DIR
local dir = assert(arg[1], "usage: tensor_files.lua DIR")
local T = archlab.tensor
local cases = {
  { name = "m23", dtype = "f32", v = { { 1, 2, 3 }, { 4, 5, 6.5 } } },
  { name = "v3", dtype = "f64", v = { 0.1, -1e300, 2 ^ -30 } },
  { name = "c234", dtype = "f32", v = { { { 1, 2, 3, 4 }, { 5, 6, 7, 8 }, { 9, 10, 11, 12 } },
                                       { { -1, -2, -3, -4 }, { -5, -6, -7, -8 }, { -9, -10, -11, -12 } } } },
  { name = "s", dtype = "f64", v = 42.5 },
}
local function json(v)
  if type(v) == "number" then return string.format("%.17g", v) end
  local t = {}
  for i, x in ipairs(v) do t[i] = json(x) end
  return "[" .. table.concat(t, ", ") .. "]"
end
local all, parts = {}, {}
for _, c in ipairs(cases) do
  local t = T.from(c.v, c.dtype)
  t:save(dir .. "/" .. c.name .. ".npy")
  all[c.name] = t
  parts[#parts + 1] = string.format('"%s": {"dtype": "%s", "values": %s}', c.name, c.dtype, json(c.v))
end
-- a view (a transposed block) is saved as its own contiguous values
local base = T.from{ { 1, 2, 3 }, { 4, 5, 6 } }
base[{ { 1, 2 }, { 2, 3 } }]:T():save(dir .. "/view.npy")
parts[#parts + 1] = '"view": {"dtype": "f32", "values": [[2, 5], [3, 6]]}'
T.save(dir .. "/all.safetensors", all)
local f = assert(io.open(dir .. "/expected.json", "w"))
f:write("{" .. table.concat(parts, ",\n ") .. "}\n")
f:close()
print("tensor files written to " .. dir)
