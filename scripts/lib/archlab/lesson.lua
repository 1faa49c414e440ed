-- archlab.lesson: what the lessons of experiments/lessons/ share. A lesson teaches one idea in under a minute
-- on two cores and ends in a one-page PDF handout: a title, the question, one figure, a table of the numbers,
-- and two or three sentences built from those numbers (never typed as findings).
--
--   local L = require("archlab.lesson")
--   local opt = L.args("kv_cache")            -- "quick" (the tiny scale make test runs), "out=DIR"
--   ... compute, draw opt.out .. "figure.png" ...
--   L.handout(opt, { title =, question =, figure =, caption =, header = {...}, rows = {{...}}, sentences = {...} })
local E = require("archlab.experiment")
local L = {}

-- as archlab.experiment's args, the output under out/lessons/NAME/ by default
function L.args(name)
  return E.args(name, "out/lessons/" .. name .. "/")
end

-- a Markdown table (the document draws it as a ruled table)
local function table_md(header, rows)
  local out = { "| " .. table.concat(header, " | ") .. " |" }
  local sep = {}
  for i = 1, #header do sep[i] = "---" end
  out[2] = "|" .. table.concat(sep, "|") .. "|"
  for _, r in ipairs(rows) do
    local cells = {}
    for i = 1, #header do cells[i] = tostring(r[i] == nil and "" or r[i]) end
    out[#out + 1] = "| " .. table.concat(cells, " | ") .. " |"
  end
  return table.concat(out, "\n")
end

-- The handout: OUT/handout.pdf (one page) and OUT/handout.md, and OUT/results.json with the numbers.
function L.handout(opt, h)
  assert(h.title and h.question and h.figure and h.header and h.rows and h.sentences, "lesson handout: missing parts")
  local text = "## " .. h.question .. "\n\n" .. table_md(h.header, h.rows) .. "\n\n"
  for _, s in ipairs(h.sentences) do text = text .. "- " .. s .. "\n" end
  local pdf = opt.out .. "handout.pdf"
  local _, pages = archlab.plot.document{ file = pdf, title = h.title,
                                          pages = { { title = h.title, text = text, image = h.figure, caption = h.caption } } }
  E.write_text(opt.out .. "handout.md", "# " .. h.title .. "\n\n" .. text .. "\n![" .. (h.caption or "") .. "](" ..
               h.figure:match("[^/]*$") .. ")\n")
  E.finish(opt, { question = h.question, header = h.header, rows = h.rows, sentences = h.sentences,
                  numbers = h.numbers or {}, pages = pages })
  print(string.format("%s: %s (%d page%s)", opt.name, pdf, pages, pages == 1 and "" or "s"))
  return pdf, pages
end

-- numbers as a handout prints them
function L.fmt(v, digits)
  if type(v) ~= "number" or v ~= v then return "-" end
  if v ~= 0 and (math.abs(v) >= 1e6 or math.abs(v) < 1e-3) then return string.format("%.2e", v) end
  return string.format("%." .. (digits or 3) .. "g", v)
end

archlab.lesson = L
return L
