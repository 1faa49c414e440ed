-- a typo in a config key
local m = archlab.model{ d_model = 64, n_head = 4 }
