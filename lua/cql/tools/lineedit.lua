--- A small line editor for the shell when a terminal is attached (LuaJIT
-- has no readline, and rlwrap is not assumed): the terminal is put in raw
-- mode with `stty` for the time a line is read, keys are handled here, and
-- the line is redrawn in place.
--
-- Keys: printable text (UTF-8), Left/Right, Home/End, Ctrl-A/E, Ctrl-B/F,
-- Backspace, Delete, Ctrl-D (delete, or end of input on an empty line),
-- Ctrl-K/U (kill to end/start), Ctrl-W (kill word), Ctrl-L (clear screen),
-- Up/Down and Ctrl-P/N (history), Ctrl-C (abandon the line). History is
-- kept in a file (default ~/.cqlua_history, at most 1000 entries).
-- Lines longer than the terminal is wide are redrawn with the terminal's
-- own wrapping, which can leave stale characters on screen.
-- @module cql.tools.lineedit
local M = {}

local LineEditor = {}
LineEditor.__index = LineEditor

local function sh(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  local out = p:read("*a")
  p:close()
  return (out:gsub("%s+$", ""))
end

--- A new editor; `opts.history_file` (false: no file), `opts.input`
-- (default io.stdin), `opts.output` (default io.stdout).
function M.new(opts)
  opts = opts or {}
  local self = setmetatable({ input = opts.input or io.stdin, output = opts.output or io.stdout, history = {},
                              max_history = opts.max_history or 1000 }, LineEditor)
  if opts.history_file ~= false then
    self.history_file = opts.history_file or ((os.getenv("HOME") or ".") .. "/.cqlua_history")
    local f = io.open(self.history_file, "r")
    if f then
      for l in f:lines() do self.history[#self.history + 1] = l end
      f:close()
    end
    while #self.history > self.max_history do table.remove(self.history, 1) end
  end
  return self
end

local function width(s)
  return #(s:gsub("[\128-\191]", ""))
end

function LineEditor:raw()
  self.saved = sh("stty -g < /dev/tty")
  os.execute("stty raw -echo < /dev/tty 2>/dev/null")
end

function LineEditor:cooked()
  if self.saved and self.saved ~= "" then
    os.execute("stty " .. self.saved .. " < /dev/tty 2>/dev/null")
  else
    os.execute("stty sane < /dev/tty 2>/dev/null")
  end
end

function LineEditor:add_history(line)
  if not line:match("%S") or self.history[#self.history] == line then return end
  self.history[#self.history + 1] = line
  if #self.history > self.max_history then table.remove(self.history, 1) end
  if self.history_file then
    local f = io.open(self.history_file, "a")
    if f then
      f:write(line, "\n")
      f:close()
    end
  end
end

--- Reads one line, showing `prompt`. Returns the line; nil at end of
-- input (Ctrl-D on an empty line); false when abandoned with Ctrl-C.
function LineEditor:read(prompt)
  local out, inp = self.output, self.input
  local buf, pos = "", 0 -- pos: bytes before the cursor
  local hist_i, draft = #self.history + 1, ""
  local function redraw()
    out:write("\r", prompt, buf, "\27[K")
    local back = width(buf:sub(pos + 1))
    if back > 0 then out:write("\27[", back, "D") end
    out:flush()
  end
  local function prev_boundary(p)
    p = p - 1
    while p > 0 and buf:byte(p + 1) and buf:byte(p + 1) >= 0x80 and buf:byte(p + 1) < 0xC0 do p = p - 1 end
    return math.max(p, 0)
  end
  local function next_boundary(p)
    p = p + 1
    while p < #buf and buf:byte(p + 1) >= 0x80 and buf:byte(p + 1) < 0xC0 do p = p + 1 end
    return math.min(p, #buf)
  end
  local function set(s)
    buf, pos = s, #s
  end
  self:raw()
  local result
  local ok, err = pcall(function()
    redraw()
    while true do
      local c = inp:read(1)
      if not c then
        result = buf ~= "" and buf or nil
        return
      end
      local b = c:byte()
      if c == "\r" or c == "\n" then
        result = buf
        return
      elseif b == 4 then -- Ctrl-D
        if buf == "" then
          result = nil
          return
        end
        if pos < #buf then buf = buf:sub(1, pos) .. buf:sub(next_boundary(pos) + 1) end
      elseif b == 3 then -- Ctrl-C
        out:write("^C")
        result = false
        return
      elseif b == 127 or b == 8 then
        if pos > 0 then
          local p = prev_boundary(pos)
          buf, pos = buf:sub(1, p) .. buf:sub(pos + 1), p
        end
      elseif b == 1 then pos = 0
      elseif b == 5 then pos = #buf
      elseif b == 2 then pos = prev_boundary(pos)
      elseif b == 6 then pos = next_boundary(pos)
      elseif b == 11 then buf = buf:sub(1, pos)
      elseif b == 21 then buf, pos = buf:sub(pos + 1), 0
      elseif b == 23 then
        local p = pos
        while p > 0 and buf:sub(p, p):match("%s") do p = p - 1 end
        while p > 0 and not buf:sub(p, p):match("%s") do p = p - 1 end
        buf, pos = buf:sub(1, p) .. buf:sub(pos + 1), p
      elseif b == 12 then out:write("\27[H\27[2J")
      elseif b == 16 or b == 14 then c = b == 16 and "A" or "B"
      elseif b == 27 then
        local c2 = inp:read(1)
        if c2 == "[" or c2 == "O" then
          c = inp:read(1) or ""
          if c:match("%d") then
            local seq = c
            repeat
              local d = inp:read(1) or "~"
              seq = seq .. d
            until not d:match("[%d;]")
            if seq == "3~" then
              if pos < #buf then buf = buf:sub(1, pos) .. buf:sub(next_boundary(pos) + 1) end
            elseif seq == "1~" or seq == "7~" then pos = 0
            elseif seq == "4~" or seq == "8~" then pos = #buf
            end
            c = ""
          end
          if c == "C" then pos = next_boundary(pos)
          elseif c == "D" then pos = prev_boundary(pos)
          elseif c == "H" then pos = 0
          elseif c == "F" then pos = #buf
          end
        end
      elseif b >= 32 then
        buf, pos = buf:sub(1, pos) .. c .. buf:sub(pos + 1), pos + 1
      end
      if c == "A" and (b == 16 or b == 27) then
        if hist_i > 1 then
          if hist_i == #self.history + 1 then draft = buf end
          hist_i = hist_i - 1
          set(self.history[hist_i])
        end
      elseif c == "B" and (b == 14 or b == 27) then
        if hist_i <= #self.history then
          hist_i = hist_i + 1
          set(self.history[hist_i] or draft)
        end
      end
      redraw()
    end
  end)
  self:cooked()
  out:write("\n")
  out:flush()
  if not ok then error(err, 0) end
  if result then self:add_history(result) end
  return result
end

return M
