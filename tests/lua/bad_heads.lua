
local m = archlab.model{ d_model = 64, n_heads = 5 }
