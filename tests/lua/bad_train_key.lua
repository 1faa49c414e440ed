local m = archlab.model{ preset = "tiny" }
local d = archlab.data.copy{}
archlab.train{ model = m, data = d, setps = 10 }
