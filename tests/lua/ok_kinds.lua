-- archlab.help("kinds") and archlab.kinds() come from the registries: every kind of every family is in both, with
-- its fields (tests/test_cli.c)
local help, kinds = archlab.help_text("kinds"), archlab.kinds()
local n = 0
for _, family in ipairs{ "attention", "ffn", "residual", "plot" } do
  assert(#kinds[family] >= 2, family)
  for _, k in ipairs(kinds[family]) do
    assert(help:find("\n  " .. k.name .. " ", 1, true), "help lacks " .. family .. " kind " .. k.name)
    for _, f in ipairs(k.fields) do assert(help:find(f, 1, true), "help lacks field " .. f) end
    n = n + 1
  end
  assert(#archlab.kinds(family) == #kinds[family])
end
for _, k in ipairs(kinds.plot) do assert(type(archlab.plot[k.name]) == "function", "no archlab.plot." .. k.name) end
assert(not pcall(archlab.kinds, "nope"))
print(n .. " kinds in help")
