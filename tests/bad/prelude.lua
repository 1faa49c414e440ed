-- Helpers for the bad-input cases (tests/bad/cases.lua): each case's script is `dofile(this file); <case>` on
-- one line, so an error the case raises names line 1 of its own file.
B = {}
B.dir = os.getenv("BAD_DIR") or "/tmp/archlab_bad"

function B.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function B.write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
  return path
end

-- a tiny model's weights saved at dir/name (and the model)
function B.weights(name, cfg)
  local m = archlab.model(cfg or { preset = "tiny", n_layers = 1 })
  local path = B.dir .. "/" .. name
  m:save(path)
  return path, m
end

-- a safetensors file's JSON header edited by f (the header length is written anew); returns the path
function B.header(path, f)
  local s = B.read(path)
  local n = string.unpack("<I8", s)
  local header, data = s:sub(9, 8 + n), s:sub(9 + n)
  local h = f(header)
  return B.write(path, string.pack("<I8", #h) .. h .. data)
end

-- the file with its bytes from `at` (1-based) replaced by `bytes`
function B.poke(path, at, bytes)
  local s = B.read(path)
  return B.write(path, s:sub(1, at - 1) .. bytes .. s:sub(at + #bytes))
end

-- where a tensor's data starts in a safetensors file (1-based, into the file)
function B.offset(path, name)
  local s = B.read(path)
  local n = string.unpack("<I8", s)
  local header = s:sub(9, 8 + n)
  local begin = header:match('"' .. name:gsub("%.", "%%.") .. '":{[^}]-"data_offsets":%[(%d+)')
  return 9 + n + tonumber(begin)
end

-- a checkpoint directory of a tiny model trained `steps` steps (and the model)
function B.checkpoint(name, steps)
  local m = archlab.model{ preset = "tiny", n_layers = 1 }
  local dir = B.dir .. "/" .. name
  archlab.train{ model = m, data = archlab.data.copy{}, steps = steps or 2, batch_size = 2, seq_len = 16, quiet = true,
                 checkpoint = dir }
  return dir, m
end

-- the options that resume a fresh tiny model from dir: archlab.train(B.resume(dir)) (called by the case itself,
-- so an error names the case's line)
function B.resume(dir)
  return { model = archlab.model{ preset = "tiny", n_layers = 1 }, data = archlab.data.copy{}, steps = 4,
           batch_size = 2, seq_len = 16, quiet = true, checkpoint = dir, resume = dir }
end
