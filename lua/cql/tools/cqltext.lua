--- Splitting CQL text into statements at `;`, minding string literals
-- ('...' with '' escapes, $$...$$), quoted identifiers ("..."), and
-- comments (--, //, /* */), which are removed from the statements.
-- @module cql.tools.cqltext
local M = {}

--- Splits `text` into complete statements (without their `;`, trimmed,
-- comments removed, empty ones dropped) and the unfinished rest (the raw
-- text after the last `;`, or "" when nothing is pending; only whitespace
-- and comments count as nothing). The third result is true when the rest
-- ends inside a string, identifier or block comment.
-- @tparam string text
-- @treturn {string,...} statements
-- @treturn string rest
-- @treturn boolean open
function M.split(text)
  local out, buf = {}, {}
  local i, n = 1, #text
  local rest_start = 1
  local open = false
  local function flush()
    local s = table.concat(buf):match("^%s*(.-)%s*$")
    if s ~= "" then out[#out + 1] = s end
    buf = {}
  end
  while i <= n do
    local c = text:sub(i, i)
    local two = text:sub(i, i + 1)
    if c == "'" or c == '"' then
      local j = i + 1
      local closed = false
      while j <= n do
        if text:sub(j, j) == c then
          if text:sub(j + 1, j + 1) == c then
            j = j + 2
          else
            closed = true
            break
          end
        else
          j = j + 1
        end
      end
      if not closed then
        open = true
        buf[#buf + 1] = text:sub(i)
        break
      end
      buf[#buf + 1] = text:sub(i, j)
      i = j + 1
    elseif two == "$$" then
      local j = text:find("$$", i + 2, true)
      if not j then
        open = true
        buf[#buf + 1] = text:sub(i)
        break
      end
      buf[#buf + 1] = text:sub(i, j + 1)
      i = j + 2
    elseif two == "--" or two == "//" then
      local j = text:find("\n", i, true)
      buf[#buf + 1] = " "
      i = j or n + 1
    elseif two == "/*" then
      local j = text:find("*/", i + 2, true)
      if not j then
        open = true
        break
      end
      buf[#buf + 1] = " "
      i = j + 2
    elseif c == ";" then
      flush()
      i = i + 1
      rest_start = i
    else
      local j = text:find("[;'\"$/%-]", i + 1) or n + 1
      buf[#buf + 1] = text:sub(i, j - 1)
      i = j
    end
  end
  local pending = table.concat(buf):match("^%s*(.-)%s*$")
  local rest = (pending ~= "" or open) and text:sub(rest_start) or ""
  return out, rest, open
end

return M
