-- The bad-input suite: runs every case of tests/bad/cases.lua as its own `archlab` process and checks its exit
-- status, that an error is ONE line on stderr naming the case's file (script:line, or the JSON file), and the
-- message pattern. Usage: archlab tests/bad/run.lua ARCHLAB_BINARY [CLASS]; prints one line per failure and a
-- closing line "bad inputs: N cases in K classes, F failed"; exits 1 when any failed.
local bin, only = arg[1], arg[2]
assert(bin, "usage: archlab tests/bad/run.lua ARCHLAB_BINARY [CLASS]")
local dir = os.getenv("BAD_DIR") or "/tmp/archlab_bad"
os.execute("rm -rf " .. dir .. " && mkdir -p " .. dir)
local cases = dofile("tests/bad/cases.lua")

local function read(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local classes, order, failed, total = {}, {}, 0, 0
for i, c in ipairs(cases) do
  if not only or c.class == only then
    total = total + 1
    if not classes[c.class] then classes[c.class] = 0; order[#order + 1] = c.class end
    classes[c.class] = classes[c.class] + 1
    local name = string.format("case%03d", i)
    local where, cmd
    if c.lua then
      where = dir .. "/" .. name .. ".lua"
      local f = assert(io.open(where, "w"))
      f:write('dofile("tests/bad/prelude.lua"); ', c.lua, "\n")
      f:close()
      cmd = sh_quote(bin) .. " --quiet " .. sh_quote(where)
      where = where .. ":1:"
    elseif c.json then
      where = dir .. "/" .. name .. ".json"
      local f = assert(io.open(where, "wb"))
      f:write(c.json)
      f:close()
      cmd = sh_quote(bin) .. " summary " .. sh_quote(where)
    else
      cmd = sh_quote(bin) .. " " .. c.cli
      where = nil
    end
    local ok, how, code = os.execute("cd " .. sh_quote(os.getenv("PWD") or ".") .. " && BAD_DIR=" .. dir .. " " .. cmd ..
                                     " > " .. dir .. "/out.txt 2> " .. dir .. "/err.txt")
    local err = read(dir .. "/err.txt")
    local want_exit = c.exit or 1
    local problems = {}
    if how ~= "exit" then problems[#problems + 1] = "killed by signal " .. tostring(code)
    elseif code ~= want_exit then problems[#problems + 1] = "exit " .. code .. ", expected " .. want_exit end
    local lines = select(2, err:gsub("\n", ""))
    if want_exit ~= 0 and lines ~= 1 then problems[#problems + 1] = lines .. " lines on stderr, expected 1" end
    if where and want_exit ~= 130 and not err:find(where, 1, true) then problems[#problems + 1] = "does not name " .. where end
    if c.want and not err:find(c.want, 1, true) then problems[#problems + 1] = "lacks '" .. c.want .. "'" end
    if #problems > 0 then
      failed = failed + 1
      print(string.format("FAIL %s %s (%s): %s\n     stderr: %s", c.class, name, c.lua or c.json or c.cli,
                          table.concat(problems, "; "), err:gsub("\n", " | ")))
    end
  end
end
local parts = {}
for _, k in ipairs(order) do parts[#parts + 1] = k .. " " .. classes[k] end
print(string.format("bad inputs: %d cases in %d classes (%s), %d failed", total, #order, table.concat(parts, ", "), failed))
os.exit(failed == 0 and 0 or 1)
