-- archlab.experiment: what every experiment script of experiments/ shares, so `make figures` can run them all
-- the same way and the report generator (experiments/report.lua) can read what they measured.
--
--   local E = require("archlab.experiment")
--   local opt = E.args("mhc_stability")     -- parses arg: "quick", "out=DIR", and the numbers in between
--   ... opt.quick, opt.out ("out/mhc_stability/" unless out=DIR was given), opt.pos[1], ...
--   E.write_json(opt.out .. "results.json", { runs = ..., scale = opt.scale })
--
-- Conventions: an experiment writes its figures and one results.json into opt.out; results.json holds every
-- measured number the report quotes, plus "scale" (a description of the run's size) and "seconds" (wall
-- time). Numbers are written with 17 significant digits; NaN and infinities become null.
local E = {}

-- arg -> { quick = bool, scale = "quick"|"default", out = "DIR/", pos = { numbers and other words } };
-- default_out (optional) replaces out/NAME/ as the directory used without out=DIR.
function E.args(name, default_out)
  local argv = arg or {}
  local o = { quick = false, scale = "default", out = default_out or ("out/" .. name .. "/"), pos = {}, name = name }
  for i = 1, #argv do
    local a = argv[i]
    if a == "quick" then
      o.quick, o.scale = true, "quick"
    elseif a:sub(1, 4) == "out=" then
      local dir = a:sub(5)
      if dir == "" then error(name .. ": argument 'out=' needs a directory", 2) end
      if dir:sub(-1) ~= "/" then dir = dir .. "/" end
      o.out = dir
    else
      o.pos[#o.pos + 1] = tonumber(a) or a
    end
  end
  E.mkdir(o.out)
  o.t0 = os.time()
  o.clock0 = os.clock()
  return o
end

function E.mkdir(dir)
  if dir:find("[\"'`$\\]") then error("archlab.experiment: directory name '" .. dir .. "' has shell metacharacters", 2) end
  local ok = os.execute("mkdir -p '" .. dir .. "'")
  if not ok then error("archlab.experiment: cannot create directory '" .. dir .. "'", 2) end
end

-- ---- JSON ----
local function is_array(t)
  local n = #t
  if n == 0 then return next(t) == nil end
  local count = 0
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 or k > n then return false end
    count = count + 1
  end
  return count == n
end

local escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return escapes[c] or string.format("\\u%04x", c:byte()) end) .. '"'
end

local function encode(v, indent, depth, out, path)
  local t = type(v)
  if t == "nil" then out[#out + 1] = "null"
  elseif t == "boolean" then out[#out + 1] = tostring(v)
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then out[#out + 1] = "null"
    elseif math.type(v) == "integer" then out[#out + 1] = tostring(v)
    else out[#out + 1] = string.format("%.17g", v) end
  elseif t == "string" then out[#out + 1] = encode_string(v)
  elseif t == "table" then
    if depth > 64 then error("archlab.experiment.json: nesting deeper than 64 at " .. path, 0) end
    local pad = indent and ("\n" .. string.rep("  ", depth + 1)) or ""
    local close = indent and ("\n" .. string.rep("  ", depth)) or ""
    if is_array(v) then
      -- short arrays of numbers stay on one line
      local flat = true
      for _, x in ipairs(v) do if type(x) == "table" then flat = false break end end
      out[#out + 1] = "["
      for i, x in ipairs(v) do
        if i > 1 then out[#out + 1] = "," end
        if not flat then out[#out + 1] = pad elseif i > 1 and indent then out[#out + 1] = " " end
        encode(x, indent, depth + 1, out, path .. "[" .. i .. "]")
      end
      if not flat and #v > 0 then out[#out + 1] = close end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do
        if type(k) ~= "string" and type(k) ~= "number" then
          error("archlab.experiment.json: key of type " .. type(k) .. " at " .. path, 0)
        end
        keys[#keys + 1] = k
      end
      table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = pad
        out[#out + 1] = encode_string(tostring(k))
        out[#out + 1] = indent and ": " or ":"
        encode(v[k], indent, depth + 1, out, path .. "." .. tostring(k))
      end
      if #keys > 0 then out[#out + 1] = close end
      out[#out + 1] = "}"
    end
  else
    error("archlab.experiment.json: cannot encode a " .. t .. " at " .. path, 0)
  end
end

function E.json(v, pretty)
  local out = {}
  encode(v, pretty ~= false, 0, out, "$")
  return table.concat(out)
end

-- Written to PATH.tmp and renamed, so a reader never sees half a file. Under mpirun rank 0 alone writes.
function E.write_json(path, v)
  if archlab.rank() ~= 0 then return path end
  local text = E.json(v) .. "\n"
  local tmp = path .. ".tmp"
  local f = assert(io.open(tmp, "w"))
  f:write(text)
  f:close()
  assert(os.rename(tmp, path))
  return path
end

function E.write_text(path, text)
  if archlab.rank() ~= 0 then return path end
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

-- Adds seconds (wall clock) and scale to the results and writes DIR/results.json.
function E.finish(opt, results)
  results.experiment = opt.name
  results.scale_name = opt.scale
  results.seconds = os.time() - opt.t0
  results.threads = archlab.threads()
  E.write_json(opt.out .. "results.json", results)
  print(string.format("%s: %s scale, %d s; results in %sresults.json", opt.name, opt.scale, results.seconds, opt.out))
  return results
end

-- ---- small helpers ----
-- a new table holding the fields of each table in turn, later ones overriding (a base config and a variant's)
function E.merge(...)
  local out = {}
  for _, t in ipairs{ ... } do for k, v in pairs(t) do out[k] = v end end
  return out
end

function E.max(list)
  local m = -math.huge
  for _, v in ipairs(list) do if v == v and v > m then m = v end end
  return m
end

function E.series(run, name)
  local s = run:series(name)
  return { x = s.x, y = s.y }
end

archlab.experiment = E
return E
