--- Starts and stops the scriptable CQL test server (cql_test_server.lua)
-- for specs. Each server is a subprocess whose pid is recorded; `stop`
-- kills exactly that pid. Stop every server you start, also when the spec
-- fails: call `srv.stop()` from busted's `finally`, or `stop_all()` from an
-- `after_each`/`teardown`. As a last resort the server exits by itself when
-- the spec process dies or after `max_seconds`.
--
--     local test_server = require "test_server"
--     local srv = test_server.start({ { when = { query = "^SELECT" }, reply = { void = true } } })
--     finally(srv.stop)
--     ... Connection.open(sched, host, "127.0.0.1", { port = srv.port }) ...
--
-- @module test_server
local ffi = require "ffi"
local socket = require "socket"
require "cql.core"
require "test_server_cdef"

local C = ffi.C

local M = {}

local root = os.getenv("PWD") or "."
local running = {} -- pid -> server

local testenv = require "testenv"
local q, read_file = testenv.q, testenv.read_file

local function write_file(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- Byte-exact quoting (bytecode and binary values included).
local function quote(s)
  return '"' .. s:gsub('[%c"\\\128-\255]', function(c) return ("\\%03d"):format(c:byte()) end) .. '"'
end

-- Lua source rebuilding v. Functions travel as bytecode, so they must not
-- use upvalues (globals such as tonumber are fine).
local function serialize(v, depth)
  depth = depth or 0
  if depth > 50 then error("script table too deep (a cycle?)", 0) end
  local t = type(v)
  if t == "string" then return quote(v) end
  if t == "number" then
    if v ~= v then return "(0/0)" end
    if v == math.huge or v == -math.huge then return v > 0 and "(1/0)" or "(-1/0)" end
    return ("%.17g"):format(v)
  end
  if t == "boolean" or t == "nil" then return tostring(v) end
  if t == "cdata" then return tostring(v) end -- int64 literals (123LL)
  if t == "function" then
    if debug.getinfo(v, "u").nups > 0 then
      error("a function in a script table must not use upvalues (it is sent as bytecode)", 0)
    end
    return "loadstring(" .. quote(string.dump(v)) .. ")"
  end
  if t == "table" then
    local parts = {}
    for k, x in pairs(v) do
      parts[#parts + 1] = "[" .. serialize(k, depth + 1) .. "]=" .. serialize(x, depth + 1)
    end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  error("cannot put a " .. t .. " in a script table", 0)
end

local function alive(pid)
  if C.kill(pid, 0) ~= 0 then return false end
  -- A zombie still answers kill(0); it is gone all the same.
  local stat = read_file("/proc/" .. pid .. "/stat")
  return not (stat and stat:match("^%d+ %b() Z"))
end

local function is_ours(pid)
  local cmdline = read_file("/proc/" .. pid .. "/cmdline")
  return cmdline == nil or cmdline:find("cql_test_server", 1, true) ~= nil
end

local function kill(server)
  if server.stopped then return end
  server.stopped = true
  running[server.pid] = nil
  if alive(server.pid) and is_ours(server.pid) then
    C.kill(server.pid, 15) -- SIGTERM: the default action ends it
    local until_ = socket.gettime() + 3
    while alive(server.pid) and socket.gettime() < until_ do socket.sleep(0.01) end
    if alive(server.pid) and is_ours(server.pid) then C.kill(server.pid, 9) end
  end
  for _, f in ipairs(server.files) do os.remove(f) end
end

--- Starts a test server.
-- @param script a rules table (see cql_test_server.lua), a path to a
--   script file, or Lua source text returning the table
-- @param opts optional: address (127.0.0.1), port (0: any free one),
--   max_seconds (60), max_version, start_timeout (10 s), verbose (server
--   log on its stderr file, kept in `srv.log`), luajit
-- @return `{address = A, port = P, pid = PID, log = path, stop = function}`
function M.start(script, opts)
  opts = opts or {}
  local files = {}
  local path
  if type(script) == "table" then
    path = os.tmpname()
    write_file(path, "return " .. serialize(script) .. "\n")
    files[#files + 1] = path
  elseif type(script) == "string" and read_file(script) then
    path = script
  elseif type(script) == "string" then
    path = os.tmpname()
    write_file(path, script)
    files[#files + 1] = path
  else
    error("bad argument #1 to 'start' (rules table, path or source expected)", 2)
  end
  local out, errlog = os.tmpname(), os.tmpname()
  files[#files + 1] = out
  if not opts.verbose then files[#files + 1] = errlog end
  local lua_path = ("%s/lua/?.lua;%s/lua/?/init.lua;%s/spec/support/?.lua;;"):format(root, root, root)
  local address = opts.address or "127.0.0.1"
  local cmd = ("LUA_PATH=%s %s %s --address %s --port %d --script %s --max-seconds %d --parent-pid %d%s%s"
    .. " >%s 2>%s & echo $!")
    :format(q(lua_path), opts.luajit or os.getenv("LUAJIT") or "luajit",
            q(root .. "/spec/support/cql_test_server.lua"), q(address), opts.port or 0, q(path),
            opts.max_seconds or 60,
            C.getpid(), opts.max_version and (" --max-version " .. opts.max_version) or "",
            opts.verbose and " --verbose" or "", q(out), q(errlog))
  local p = assert(io.popen(cmd))
  local pid = tonumber(p:read("*l"))
  p:close()
  assert(pid, "cannot start cql_test_server")
  local server = { pid = pid, files = files, log = errlog, address = address }
  server.stop = function() kill(server) end
  running[pid] = server
  -- Bounded wait: the port line, then one accepted connection.
  local until_ = socket.gettime() + (opts.start_timeout or 10)
  while socket.gettime() < until_ do
    local port = (read_file(out) or ""):match("LISTENING (%d+)")
    if port then
      local s = socket.connect(address, tonumber(port))
      if s then
        s:close()
        server.port = tonumber(port)
        return server
      end
    end
    if not alive(pid) then break end
    socket.sleep(0.02)
  end
  local why = read_file(errlog) or ""
  kill(server)
  error("cql_test_server did not start: " .. why, 2)
end

--- Stops every server started and not yet stopped (for after_each/teardown).
function M.stop_all()
  local list = {}
  for _, s in pairs(running) do list[#list + 1] = s end
  for _, s in ipairs(list) do s.stop() end
end

--- Pids of the servers still running (for checks that nothing leaks).
function M.running()
  local pids = {}
  for pid in pairs(running) do pids[#pids + 1] = pid end
  return pids
end

return M
