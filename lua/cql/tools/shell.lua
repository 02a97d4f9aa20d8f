--- `cqlua shell`: an interactive CQL shell on the driver.
--
-- Statements end with `;` and may span lines. Shell commands (no `;`
-- needed): `DESCRIBE`/`DESC` (KEYSPACES, KEYSPACE [ks], TABLES, TABLE t,
-- TYPES, TYPE t, SCHEMA, FULL SCHEMA, CLUSTER, or a bare name) from the
-- driver's metadata; `TRACING ON|OFF`; `CONSISTENCY [LEVEL]`; `SERIAL
-- CONSISTENCY [LEVEL]`; `PAGING [N|ON|OFF]`; `EXPAND ON|OFF`; `SOURCE
-- 'file'`; `HELP`; `EXIT`/`QUIT`; `:lua CODE` (runs Lua with `session`,
-- `cluster` and `shell` in scope; an expression's values are printed).
--
-- With a terminal on standard input, lines are read with
-- `cql.tools.lineedit` (history in ~/.cqlua_history) and long results stop
-- after each page of PAGING rows (default 100). Otherwise statements are
-- read from standard input, errors are reported as `stdin:LINE: message`,
-- and the exit status is 1 when any statement failed.
-- @module cql.tools.shell
local common = require "cql.tools.common"
local cqltext = require "cql.tools.cqltext"
local format = require "cql.tools.format"
local cql = require "cql"

local M = {}

local Shell = {}
Shell.__index = Shell
M.Shell = Shell

local CL = cql.ConsistencyLevel

--- A shell over `session`; `opts`: cluster, out (function writing text),
-- err (likewise, for errors), interactive (pause between pages),
-- source_name (for error locations), read_key (a function returning the
-- next key pressed, for paging).
function Shell.new(session, cluster, opts)
  opts = opts or {}
  return setmetatable({
    session = session, cluster = cluster,
    write = opts.out or function(s) io.stdout:write(s) end,
    write_err = opts.err or function(s) io.stderr:write(s) end,
    interactive = opts.interactive or false, read_key = opts.read_key,
    source_name = opts.source_name or "stdin",
    consistency = CL.ONE, serial_consistency = nil, tracing = false,
    page_size = opts.interactive and 100 or nil, expand = false,
    buffer = "", buffer_line = nil, failures = 0, done = false,
  }, Shell)
end

function Shell:print(...)
  local parts = { ... }
  for i = 1, select("#", ...) do parts[i] = tostring(parts[i]) end
  self.write(table.concat(parts, "\t") .. "\n")
end

function Shell:error(line, msg)
  self.failures = self.failures + 1
  local where = self.interactive and "" or (self.source_name .. ":" .. tostring(line) .. ": ")
  self.write_err(where .. common.errmsg(msg) .. "\n")
end

--- The prompt for the next line.
function Shell:prompt()
  if self.buffer ~= "" then return "   ... " end
  local ks = self.session.keyspace
  return ks and ("cqlua:" .. ks .. "> ") or "cqlua> "
end

-- Display width of a cell (code points, not bytes).
local function width(s)
  return #(s:gsub("[\128-\191]", ""))
end

local NUMERIC = { int = true, bigint = true, smallint = true, tinyint = true, varint = true, float = true,
                  double = true, decimal = true, counter = true }

local function cell(v, t)
  if v == nil then return "null" end
  local s = format.text(v, t)
  return (s:gsub("[%c]", function(c)
    if c == "\n" then return "\\n" elseif c == "\t" then return "\\t" elseif c == "\r" then return "\\r" end
    return ("\\x%02x"):format(c:byte())
  end))
end

local function pad(s, w, right)
  local n = w - width(s)
  if n <= 0 then return s end
  return right and (" "):rep(n) .. s or s .. (" "):rep(n)
end

-- Prints a block of rows as an aligned table (or one record per row
-- when expanded).
function Shell:print_block(names, types, rows, first_index)
  if self.expand then
    local w = 0
    for _, n in ipairs(names) do w = math.max(w, width(n)) end
    for i, r in ipairs(rows) do
      self.write(("\n@ Row %d\n"):format(first_index + i - 1))
      self.write(("-"):rep(w + 2) .. "+" .. ("-"):rep(20) .. "\n")
      for c, n in ipairs(names) do self.write(" " .. pad(n, w) .. " | " .. cell(r[n], types[c]) .. "\n") end
    end
    return
  end
  local widths, cells = {}, {}
  for c, n in ipairs(names) do widths[c] = width(n) end
  for i, r in ipairs(rows) do
    local line = {}
    for c, n in ipairs(names) do
      local s = cell(r[n], types[c])
      line[c] = s
      widths[c] = math.max(widths[c], width(s))
    end
    cells[i] = line
  end
  local header, sep = {}, {}
  for c, n in ipairs(names) do
    header[c] = " " .. pad(n, widths[c], NUMERIC[types[c] and types[c].typename]) .. " "
    sep[c] = ("-"):rep(widths[c] + 2)
  end
  local function trim(l) return (l:gsub("%s+$", "")) end
  local out = { "", trim(table.concat(header, "|")), table.concat(sep, "+") }
  for _, line in ipairs(cells) do
    local parts = {}
    for c, s in ipairs(line) do parts[c] = " " .. pad(s, widths[c], NUMERIC[types[c] and types[c].typename]) .. " " end
    out[#out + 1] = trim(table.concat(parts, "|"))
  end
  self.write(table.concat(out, "\n") .. "\n")
end

-- Prints a result set: every row, in blocks of the page size, pausing
-- between blocks when interactive. Returns true or nil, err.
function Shell:print_result(rs)
  local names = rs.column_names
  if not names or #names == 0 then return true end
  local types = rs.column_types or {}
  local block_size = self.page_size or 5000
  local block, count = {}, 0
  local stopped = false
  for row, err in rs:rows() do
    if not row then return nil, err end
    block[#block + 1] = row
    count = count + 1
    if #block >= block_size then
      self:print_block(names, types, block, count - #block + 1)
      block = {}
      if self.interactive and self.page_size and self.read_key and (rs.has_more_pages or rs.current_rows[1]) then
        self.write("---MORE--- (Enter: next page, q: stop) ")
        local k = self.read_key()
        self.write("\n")
        if k == "q" or k == "Q" or k == nil then
          stopped = true
          break
        end
      end
    end
  end
  if #block > 0 or count == 0 then self:print_block(names, types, block, count - #block + 1) end
  self.write(("\n(%d rows%s)\n"):format(count, stopped and ", more not shown" or ""))
  return true
end

function Shell:print_trace(rs)
  local trace, err = rs:get_query_trace(5)
  if not trace then
    self:print("(no trace: " .. common.errmsg(err) .. ")")
    return
  end
  self.write("\nTracing session: " .. tostring(trace.trace_id) .. "\n")
  local rows = {}
  for _, e in ipairs(trace.events) do
    rows[#rows + 1] = { activity = e.description, source = tostring(e.source), source_elapsed = e.source_elapsed,
                        thread = e.thread_name }
  end
  rows[#rows + 1] = { activity = "Request complete", source = tostring(trace.coordinator),
                      source_elapsed = trace.duration, thread = "" }
  self:print_block({ "activity", "source", "source_elapsed", "thread" }, {}, rows, 1)
end

local function level_name(v)
  return v and CL.value_to_name[v] or "none"
end

local function md_of(self)
  return common.metadata(self.cluster, self.session, true)
end

local function describe(self, what, line)
  local md, err = md_of(self)
  if not md then return self:error(line, err) end
  local words = {}
  for w in what:gmatch("%S+") do words[#words + 1] = w end
  local kw = (words[1] or ""):upper()
  local arg = what:match("^%S+%s+(.-)%s*$")
  local current = self.session.keyspace
  local function find_table(name)
    local ks, t = common.split_name(name)
    ks = ks or current
    if not ks then return nil, "no keyspace given and none in use: DESCRIBE TABLE ks.table" end
    local tm = md:get_table(ks, t)
    if not tm then return nil, ("table '%s' not found in keyspace '%s'"):format(t, ks) end
    return tm
  end
  if kw == "KEYSPACES" then
    local names = {}
    for n in pairs(md.keyspaces) do names[#names + 1] = n end
    table.sort(names)
    self.write("\n" .. table.concat(names, "  ") .. "\n\n")
  elseif kw == "KEYSPACE" then
    local name = arg and select(2, common.split_name(arg)) or current
    if not name then return self:error(line, "no keyspace given and none in use") end
    local ks = md:get_keyspace(name)
    if not ks then return self:error(line, ("keyspace '%s' not found"):format(name)) end
    self.write("\n" .. ks:export_as_string() .. "\n\n")
  elseif kw == "TABLE" or kw == "COLUMNFAMILY" then
    if not arg then return self:error(line, "DESCRIBE TABLE needs a table name") end
    local tm, terr = find_table(arg)
    if not tm then return self:error(line, terr) end
    self.write("\n" .. tm:export_as_string() .. "\n\n")
  elseif kw == "TABLES" or kw == "COLUMNFAMILIES" or kw == "TYPES" then
    local kss = {}
    if current then kss[1] = current else
      for n in pairs(md.keyspaces) do kss[#kss + 1] = n end
      table.sort(kss)
    end
    for _, k in ipairs(kss) do
      local ks = md:get_keyspace(k)
      local names = {}
      for n in pairs(kw == "TYPES" and ks.user_types or ks.tables) do names[#names + 1] = n end
      table.sort(names)
      if #names > 0 or current then
        self.write(("\nKeyspace %s\n%s\n%s\n"):format(k, ("-"):rep(#k + 9), table.concat(names, "  ")))
      end
    end
    self.write("\n")
  elseif kw == "TYPE" then
    if not arg then return self:error(line, "DESCRIBE TYPE needs a type name") end
    local ks, n = common.split_name(arg)
    ks = ks or current
    local ut = ks and md:get_user_type(ks, n)
    if not ut then return self:error(line, ("type '%s' not found in keyspace '%s'"):format(n, tostring(ks))) end
    self.write("\n" .. ut:export_as_string() .. "\n\n")
  elseif kw == "SCHEMA" or (kw == "FULL" and (words[2] or ""):upper() == "SCHEMA") then
    local names = {}
    for n, ks in pairs(md.keyspaces) do
      if kw == "FULL" or not (n:match("^system") or n == "dse_system" or ks.virtual) then names[#names + 1] = n end
    end
    table.sort(names)
    for _, n in ipairs(names) do self.write("\n" .. md.keyspaces[n]:export_as_string() .. "\n") end
    self.write("\n")
  elseif kw == "CLUSTER" then
    self.write(("\nCluster: %s\nPartitioner: %s\n\n"):format(tostring(md.cluster_name), tostring(md.partitioner)))
  elseif kw ~= "" then
    local name = what:match("^%s*(.-)%s*$")
    local ksn, n = common.split_name(name)
    if not ksn and md:get_keyspace(n) then
      self.write("\n" .. md:get_keyspace(n):export_as_string() .. "\n\n")
    else
      local tm, terr = find_table(name)
      if not tm then return self:error(line, ("'%s' is neither a keyspace nor a table (%s)"):format(name, terr)) end
      self.write("\n" .. tm:export_as_string() .. "\n\n")
    end
  else
    return self:error(line, "DESCRIBE what? KEYSPACES, KEYSPACE ks, TABLES, TABLE t, TYPES, TYPE t, SCHEMA, CLUSTER")
  end
end

local HELP = [[
Statements end with ';' and may span lines. Shell commands:
  DESCRIBE KEYSPACES | KEYSPACE [ks] | TABLES | TABLE t | TYPES | TYPE t | SCHEMA | FULL SCHEMA | CLUSTER | name
  CONSISTENCY [LEVEL]        show or set the consistency level (default ONE)
  SERIAL CONSISTENCY [LEVEL] show or set the serial consistency level
  TRACING ON|OFF             print the server's trace after each statement
  PAGING [N|ON|OFF]          rows per page (interactive: pause after each page)
  EXPAND ON|OFF              one record per row
  SOURCE 'file'              run the statements of a file
  :lua CODE                  run Lua (session, cluster, shell in scope); expressions are printed
  USE ks; HELP; EXIT; QUIT]]

-- Shell commands; returns true when `stmt` was one.
function Shell:command(stmt, line)
  local kw, rest = stmt:match("^(%a+)%s*(.-)%s*;?%s*$")
  if not kw then return false end
  kw = kw:upper()
  if kw == "DESCRIBE" or kw == "DESC" then
    describe(self, rest, line)
  elseif kw == "EXIT" or kw == "QUIT" then
    self.done = true
  elseif kw == "HELP" or kw == "?" then
    self.write(HELP .. "\n")
  elseif kw == "TRACING" then
    local v = rest:upper()
    if v == "ON" then self.tracing = true; self:print("Now Tracing is enabled")
    elseif v == "OFF" then self.tracing = false; self:print("Disabled Tracing.")
    elseif v == "" then self:print("Tracing is currently " .. (self.tracing and "enabled." or "disabled."))
    else self:error(line, "TRACING ON or TRACING OFF expected") end
  elseif kw == "CONSISTENCY" then
    if rest == "" then
      self:print("Current consistency level is " .. level_name(self.consistency) .. ".")
    else
      local v = CL[rest:upper()]
      if not v then return true, self:error(line, "unknown consistency level '" .. rest .. "'") end
      self.consistency = v
      self:print("Consistency level set to " .. rest:upper() .. ".")
    end
  elseif kw == "SERIAL" and rest:upper():match("^CONSISTENCY") then
    local lvl = rest:match("^%a+%s*(.-)$")
    if lvl == "" then
      self:print("Current serial consistency level is " .. level_name(self.serial_consistency or CL.SERIAL) .. ".")
    else
      local v = CL[lvl:upper()]
      if v ~= CL.SERIAL and v ~= CL.LOCAL_SERIAL then
        return true, self:error(line, "serial consistency is SERIAL or LOCAL_SERIAL")
      end
      self.serial_consistency = v
      self:print("Serial consistency level set to " .. lvl:upper() .. ".")
    end
  elseif kw == "PAGING" then
    local v = rest:upper()
    if v == "" then
      self:print(self.page_size and ("Query paging is currently enabled. Page size: " .. self.page_size)
        or "Query paging is currently disabled.")
    elseif v == "OFF" then
      self.page_size = nil
      self:print("Disabled Query paging.")
    elseif v == "ON" then
      self.page_size = self.page_size or 100
      self:print("Now Query paging is enabled. Page size: " .. self.page_size)
    elseif tonumber(v) and tonumber(v) >= 1 then
      self.page_size = math.floor(tonumber(v))
      self:print("Page size: " .. self.page_size)
    else
      self:error(line, "PAGING ON, OFF or a page size expected")
    end
  elseif kw == "EXPAND" then
    local v = rest:upper()
    if v == "ON" then self.expand = true; self:print("Now Expanded output is enabled")
    elseif v == "OFF" then self.expand = false; self:print("Disabled Expanded output.")
    else self:print("Expanded output is currently " .. (self.expand and "enabled." or "disabled.")) end
  elseif kw == "SOURCE" then
    local file = rest:match("^'(.*)'$") or rest:match('^"(.*)"$') or rest
    local f, ferr = io.open(file, "r")
    if not f then return true, self:error(line, ferr) end
    local saved_name, saved_interactive = self.source_name, self.interactive
    self.source_name, self.interactive = file, false
    local n = 0
    for l in f:lines() do
      n = n + 1
      self:feed(l, n)
      if self.done then break end
    end
    f:close()
    self:finish(n)
    self.source_name, self.interactive = saved_name, saved_interactive
  else
    return false
  end
  return true
end

--- Runs `:lua CODE`.
function Shell:run_lua(code, line)
  local env = setmetatable({ session = self.session, cluster = self.cluster, shell = self,
                             print = function(...) self:print(...) end }, { __index = _G })
  local fn = loadstring("return " .. code, "=lua")
  if not fn then
    local perr
    fn, perr = loadstring(code, "=lua")
    if not fn then return self:error(line, perr) end
  end
  setfenv(fn, env)
  local res = { pcall(fn) }
  if not res[1] then return self:error(line, res[2]) end
  if #res > 1 or res.n then
    local parts = {}
    for i = 2, table.maxn(res) do parts[#parts + 1] = tostring(res[i]) end
    if #parts > 0 then self.write(table.concat(parts, "\t") .. "\n") end
  end
end

--- Runs one complete statement (without its `;`).
function Shell:run_statement(stmt, line)
  if self:command(stmt, line) then return end
  local opts = { consistency_level = self.consistency, serial_consistency_level = self.serial_consistency,
                 fetch_size = self.page_size or 5000, trace = self.tracing or nil, timeout = 60 }
  local rs, err = self.session:execute(stmt, nil, opts)
  if not rs then return self:error(line, err) end
  local ok, perr = self:print_result(rs)
  if not ok then return self:error(line, perr) end
  for _, w in ipairs(rs.warnings or {}) do self.write_err("Warning: " .. tostring(w) .. "\n") end
  if self.tracing and rs.trace_id then self:print_trace(rs) end
end

local SHELL_WORDS = { DESCRIBE = true, DESC = true, EXIT = true, QUIT = true, HELP = true, TRACING = true,
                      CONSISTENCY = true, SERIAL = true, PAGING = true, EXPAND = true, SOURCE = true }

--- Feeds one input line (number `line` for error messages).
function Shell:feed(text, line)
  if self.buffer == "" then
    local code = text:match("^%s*:lua%s+(.*)$")
    if code then return self:run_lua(code, line) end
    if text:match("^%s*:q") or text:match("^%s*:exit") then
      self.done = true
      return
    end
    local first = text:match("^%s*(%a+)")
    if first and SHELL_WORDS[first:upper()] and not text:find(";", 1, true) then
      return self:run_statement(text:match("^%s*(.-)%s*$"), line)
    end
    if not text:match("%S") then return end
    self.buffer_line = line
  end
  self.buffer = self.buffer .. text .. "\n"
  local stmts, rest = cqltext.split(self.buffer)
  self.buffer = rest
  for _, s in ipairs(stmts) do
    self:run_statement(s, self.buffer_line)
    if self.done then return end
  end
  if rest == "" then self.buffer_line = nil end
end

--- At end of input: an unfinished statement is an error.
function Shell:finish(line)
  if self.buffer:match("%S") then
    self:error(self.buffer_line or line, "incomplete statement at end of input (missing ';'?): "
      .. self.buffer:gsub("%s+", " "):sub(1, 60))
  end
  self.buffer = ""
end

M.USAGE = [[
usage: cqlua [connection flags] shell [options]
  -k, --keyspace KS    use keyspace KS
  -e, --execute CQL    run CQL (statements separated by ';') and exit
  -f, --file FILE      run the statements of FILE and exit
  --no-history         do not read or write ~/.cqlua_history
Without -e/-f: reads statements from standard input; with a terminal,
interactively with line editing and history. Type HELP for shell commands.]]

--- The `cqlua shell` subcommand; returns an exit status.
function M.main(args)
  local a = {}
  for i, v in ipairs(args) do
    a[i] = (v == "-k" and "--keyspace") or (v == "-e" and "--execute") or (v == "-f" and "--file") or v
  end
  local opts, perr = common.parse_args(a, { ["--keyspace"] = "value", ["--execute"] = "value", ["--file"] = "value",
                                            ["--no-history"] = "flag", ["--help"] = "flag" })
  if not opts or #opts > 0 then
    io.stderr:write("cqlua shell: ", perr or ("unexpected argument " .. tostring(opts[1])), "\n", M.USAGE, "\n")
    return 2
  end
  if opts.help then
    print(M.USAGE)
    return 0
  end
  local cluster, session = common.connect({ keyspace = opts.keyspace })
  if not cluster then
    io.stderr:write("cqlua shell: cannot connect: ", common.errmsg(session), "\n")
    return 1
  end
  local tty = not opts.execute and not opts.file and common.isatty(0) and common.isatty(1)
  local editor = tty and require("cql.tools.lineedit").new({ history_file = opts.no_history and false or nil })
  local sh = Shell.new(session, cluster, {
    interactive = tty,
    source_name = opts.file or (opts.execute and "-e") or "stdin",
    out = function(s) io.stdout:write(s); io.stdout:flush() end,
    read_key = tty and function()
      editor:raw()
      local k = io.stdin:read(1)
      editor:cooked()
      return k == "\r" and "" or k
    end or nil,
  })
  local n = 0
  if opts.execute then
    sh:feed(opts.execute, 1)
    if not sh.done and sh.buffer:match("%S") then sh:feed(";", 1) end
  elseif opts.file then
    sh:command("SOURCE '" .. opts.file .. "'", 0)
  elseif tty then
    local hosts = {}
    for _, h in ipairs(cluster:all_hosts()) do hosts[#hosts + 1] = h.endpoint end
    print(("Connected to %s (cqlua %s). Type HELP for help, EXIT or Ctrl-D to leave.")
      :format(table.concat(hosts, ", "), cql.version))
    while not sh.done do
      local l = editor:read(sh:prompt())
      if l == nil then break end
      if l == false then
        sh.buffer = ""
      else
        n = n + 1
        sh:feed(l, n)
      end
    end
  else
    for l in io.stdin:lines() do
      n = n + 1
      sh:feed(l, n)
      if sh.done then break end
    end
  end
  sh:finish(n)
  cluster:shutdown()
  if not tty and sh.failures > 0 then return 1 end
  return 0
end

return M
