-- a config file naming a preset that does not exist (tests/bad/cases.lua: archlab summary reads its preset)
return { preset = "tinny", n_layers = 2 }
