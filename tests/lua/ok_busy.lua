-- a script that runs until stopped, in the operation arg[1] names: SIGINT/SIGTERM must stop it (tests/test_cli.c)
local what = arg[1]
io.write("started\n") io.flush()
if what == "lua" then
  local x = 0
  while true do x = x + 1 end
elseif what == "evaluate" then
  local m = archlab.model{ preset = "tiny" }
  m:evaluate{ data = archlab.data.copy{}, batches = 1000000, batch_size = 16 }
elseif what == "niah" then
  local m = archlab.model{ preset = "tiny", seq_len = 64 }
  local lengths = {}
  for i = 1, 64 do lengths[i] = 64 end
  m:niah{ data = archlab.data.niah{}, lengths = lengths, depths = { 0, 0.25, 0.5, 0.75, 1 }, trials = 256 }
elseif what == "generate" then
  local m = archlab.model{ preset = "tiny", seq_len = 4096 }
  for i = 1, 1000 do m:generate{ prompt = "x", n = 4095 } end
end
