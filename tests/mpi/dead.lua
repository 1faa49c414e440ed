-- A long checkpointing run for the dead-rank test (tests/test_mpi.c): rank 1 writes its process id to PIDFILE,
-- then both train; the test kills rank 1 once a checkpoint exists. Usage: dead.lua CKDIR PIDFILE
local dir, pidfile = arg[1], arg[2]
if archlab.rank() == 1 then
  local f = assert(io.open(pidfile .. ".tmp", "w"))
  f:write(io.open("/proc/self/stat"):read("n"), "\n")
  f:close()
  os.rename(pidfile .. ".tmp", pidfile)
end
archlab.train{ model = archlab.model{ preset = "tiny" }, data = archlab.data.text(), steps = 100000, batch_size = 4,
               seq_len = 32, quiet = true, checkpoint = dir, checkpoint_every = 5 }
