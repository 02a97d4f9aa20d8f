--- CSV (RFC 4180) writing and reading for the bulk tools.
--
-- Writing: a null is an empty unquoted field; an empty string is `""`;
-- fields with a comma, quote, CR, LF, or leading/trailing space are quoted
-- with quotes doubled. Reading gives each record's fields and which of
-- them were quoted (so null and "" stay apart), records may span lines.
-- @module cql.tools.csv
local M = {}

local concat = table.concat

--- One field's CSV text (`s` nil for null).
function M.field(s)
  if s == nil then return "" end
  if s == "" then return '""' end
  if s:find('[,"\r\n]') or s:find("^%s") or s:find("%s$") then
    return '"' .. s:gsub('"', '""') .. '"'
  end
  return s
end

--- One record's line (without the newline) from an array of strings or
-- nils of length `n`.
function M.line(fields, n)
  local parts = {}
  for i = 1, n do parts[i] = M.field(fields[i]) end
  return concat(parts, ",")
end

--- A reader over `next_line` (a function returning the next line without
-- its newline, or nil). `reader()` returns fields, quoted flags, the
-- line number where the record started and its raw text; nil at the end;
-- or false, message, line, raw for a malformed record (an unterminated
-- quote at end of input, or text after a closing quote).
function M.reader(next_line)
  local lineno = 0
  return function()
    local line = next_line()
    if line == nil then return nil end
    lineno = lineno + 1
    local start = lineno
    local raw = { line }
    local fields, quoted = {}, {}
    local i = 1
    while true do
      local c = line:sub(i, i)
      if c == '"' then
        local buf = {}
        local j = i + 1
        while true do
          local k = line:find('"', j, true)
          if not k then
            buf[#buf + 1] = line:sub(j) .. "\n"
            local more = next_line()
            if more == nil then
              return false, "unterminated quoted field", start, concat(raw, "\n")
            end
            lineno = lineno + 1
            raw[#raw + 1] = more
            line, j = more, 1
          elseif line:sub(k + 1, k + 1) == '"' then
            buf[#buf + 1] = line:sub(j, k)
            j = k + 2
          else
            buf[#buf + 1] = line:sub(j, k - 1)
            i = k + 1
            break
          end
        end
        fields[#fields + 1] = concat(buf)
        quoted[#fields] = true
        local d = line:sub(i, i)
        if d == "," then
          i = i + 1
        elseif d == "" or d == "\r" and i == #line then
          break
        else
          return false, ("text after a closing quote in field %d"):format(#fields), start, concat(raw, "\n")
        end
      else
        local k = line:find(",", i, true)
        local f = line:sub(i, (k or #line + 1) - 1)
        if not k and f:sub(-1) == "\r" then f = f:sub(1, -2) end
        fields[#fields + 1] = f
        if not k then break end
        i = k + 1
      end
    end
    return fields, quoted, start, concat(raw, "\n")
  end
end

return M
