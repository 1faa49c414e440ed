-- a long run to be interrupted by SIGINT: it must checkpoint, keep its metrics and exit with 130
local dir = arg[1]
print("started")
io.stdout:flush()
archlab.train{ model = archlab.model{ preset = "tiny" }, data = archlab.data.copy{}, steps = 1000000, batch_size = 4,
               quiet = true, log_every = 1, checkpoint = dir .. "/ckpt", metrics = dir .. "/m.jsonl" }
