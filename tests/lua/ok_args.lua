-- script arguments reach Lua as arg (and ...)
local a, b = ...
print(arg[0] ~= nil, arg[1], arg[2], a, b)
local m = archlab.model{ preset = "tiny", n_layers = 1 }
print(m:params().total)
