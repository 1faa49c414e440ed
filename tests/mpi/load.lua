-- Loads the weights of a checkpoint directory written by tests/mpi/dead.lua and evaluates them (tests/test_mpi.c)
local m = archlab.model{ preset = "tiny" }
m:load(arg[1] .. "/model.safetensors")
print(string.format("val %.9g", m:evaluate{ data = archlab.data.text(), batches = 2, seq_len = 32 }))
