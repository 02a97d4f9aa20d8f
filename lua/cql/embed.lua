--- The Lua side of the C embedding API (include/cqlua.h, src/embed/).
--
-- Each `cqlua_cluster` owns a LuaJIT state that loads this module once; the
-- module's upvalues are therefore that cluster's state: the options being
-- collected, the `cql.cluster.Cluster` made from them at the first
-- connect, and the queue of futures whose C callbacks are due.
--
-- C calls `embed.call(name, ...)`, which runs `embed[name](...)` and never
-- raises: it returns `0, values...` on success, or `code, error_name,
-- message, server_code` (code: a negative `cqlua_error`). Values cross to C
-- without formatting: rows stay in the page the driver decoded (C reads the
-- `cq_response` through a pointer written here and decodes the cells
-- itself), numbers and strings are pushed as they are.
--
-- Not for Lua programs: use `cql.cluster` directly.
-- @module cql.embed
local ffi = require "ffi"
local cluster_mod = require "cql.cluster"
local errors = require "cql.errors"
local encoder = require "cql.encoder"
local codec = require "cql.codec"
local query = require "cql.query"
local runtime = require "cql.runtime"
local uuid = require "cql.util.uuid"
local sentinels = require "cql.util.sentinels"

ffi.cdef [[
typedef struct cqlua_embed_page {
  const void *response;
  const char *paging_state;
  size_t paging_state_len;
  int32_t has_more;
} cqlua_embed_page;
]]

local M = {}

-- Error codes (include/cqlua.h cqlua_error).
local E = {
  BAD_ARGUMENT = -1, WRONG_TYPE = -2, NOT_FOUND = -4, CLOSED = -7, CONFIG = -8, SERVER = -9,
  NO_HOST_AVAILABLE = -10, OPERATION_TIMED_OUT = -11, CONNECTION = -12, DRIVER = -13,
  INTERNAL = -15,
}
M.codes = E

-- An error raised by this module with a chosen code and name.
local Failure = {}
Failure.__index = Failure
Failure.__tostring = function(f) return f.message end
local function fail(code, name, message)
  error(setmetatable({ code = code, name = name, message = message }, Failure), 0)
end

local function classify(err)
  if getmetatable(err) == Failure then return err.code, err.name, err.message, 0 end
  if errors.is_error(err) then
    local name = err.name
    -- tostring gives "Name (code 0x2200): message info={...} [host h]"; C
    -- has the name and the code apart, so the message starts after them.
    local msg = tostring(err)
    local rest = msg:sub(#name + 1):gsub("^ %(code 0x%x+%)", "")
    if rest:sub(1, 2) == ": " then msg = rest:sub(3) end
    if name == "NoHostAvailable" then return E.NO_HOST_AVAILABLE, name, msg, 0 end
    if name == "OperationTimedOut" then return E.OPERATION_TIMED_OUT, name, msg, 0 end
    if err:is_a(errors.ConnectionException) then return E.CONNECTION, name, msg, 0 end
    if err.code then return E.SERVER, name, msg, err.code end
    return E.DRIVER, name, msg, 0
  end
  local msg = tostring(err)
  if msg:find("shut down", 1, true) then return E.CLOSED, "Closed", msg, 0 end
  return E.BAD_ARGUMENT, "BadArgument", msg, 0
end
M.classify = classify

--- Runs `embed[name](...)`; see the module doc for what it returns.
function M.call(name, ...)
  local fn = M[name]
  if not fn then return E.INTERNAL, "InternalError", "cql.embed: no function " .. tostring(name), 0 end
  local res = { pcall(fn, ...) }
  if res[1] then
    res[1] = 0
    return unpack(res, 1, table.maxn(res))
  end
  return classify(res[2])
end

-- Settings -------------------------------------------------------------------

local options = {}  -- Cluster options collected from the C calls and files
local cluster       -- the Cluster, made at the first connect
local queue = {}    -- future wrappers whose C callback is due, in order:
local qhead, qtail = 1, 0 -- queue[qhead..qtail]

local function check_not_connected()
  if cluster then fail(E.CLOSED, "Closed", "the cluster is connected: set options before connecting") end
end

-- Builds a Cluster from the options (a copy), turning errors into
-- ConfigError failures.
local function build(opts)
  local copy = {}
  for k, v in pairs(opts) do copy[k] = v end
  local ok, c = pcall(cluster_mod.Cluster, copy)
  if not ok then fail(E.CONFIG, "ConfigError", "bad cluster options: " .. tostring(c)) end
  return c
end

local function merge(t, what)
  if type(t) ~= "table" then
    fail(E.CONFIG, "ConfigError", what .. " must return a table of cql.cluster.Cluster options, got " .. type(t))
  end
  local merged = {}
  for k, v in pairs(options) do merged[k] = v end
  for k, v in pairs(t) do
    if type(k) ~= "string" then fail(E.CONFIG, "ConfigError", what .. ": option names must be strings") end
    merged[k] = v
  end
  build(merged) -- checks them now, so a bad file fails at load time
  options = merged
end

local function run_config(chunk, err, what)
  if not chunk then fail(E.CONFIG, "ConfigError", "cannot load " .. what .. ": " .. tostring(err)) end
  local ok, t = pcall(chunk)
  if not ok then fail(E.CONFIG, "ConfigError", what .. " failed: " .. tostring(t)) end
  merge(t, what)
end

function M.load_config_file(path)
  check_not_connected()
  local chunk, err = loadfile(path)
  run_config(chunk, err, "config file " .. path)
end

function M.load_config_string(src)
  check_not_connected()
  local chunk, err = loadstring(src, "=config")
  run_config(chunk, err, "config")
end

-- Lua expressions (options, bound values) see `cql` and `util`.
local eval_env = setmetatable({}, { __index = function(t, k)
  if k == "cql" then rawset(t, k, require "cql") elseif k == "util" then rawset(t, k, require "cql.util") end
  local v = rawget(t, k)
  if v ~= nil then return v end
  return _G[k]
end })

local function eval(expr, what)
  local chunk, err = loadstring("return " .. expr, "=" .. what)
  if not chunk then fail(E.BAD_ARGUMENT, "BadArgument", "bad Lua expression for " .. what .. ": " .. err) end
  setfenv(chunk, eval_env)
  local ok, v = pcall(chunk)
  if not ok then fail(E.BAD_ARGUMENT, "BadArgument", "Lua expression for " .. what .. " failed: " .. tostring(v)) end
  return v
end
M.eval = eval

function M.set_option(name, expr)
  check_not_connected()
  local v = eval(expr, "option " .. name)
  merge({ [name] = v }, "option " .. name)
end

function M.set_contact_points(list)
  check_not_connected()
  local points = {}
  for p in list:gmatch("[^,]+") do
    p = p:match("^%s*(.-)%s*$")
    if p ~= "" then points[#points + 1] = p end
  end
  if #points == 0 then fail(E.BAD_ARGUMENT, "BadArgument", "no contact point in '" .. list .. "'") end
  merge({ contact_points = points }, "contact points")
end

function M.set_port(port)
  check_not_connected()
  merge({ port = port }, "port")
end

function M.set_credentials(user, password)
  check_not_connected()
  merge({ auth_provider = require("cql.auth").PlainTextAuthProvider(user, password) }, "credentials")
end

local function get_cluster()
  if not cluster then cluster = build(options) end
  return cluster
end

-- Futures ----------------------------------------------------------------------

-- A wrapper the C future handle references: the future, what it yields
-- ("session", "result", "prepared") and, once the C side set a callback,
-- the handle (a light userdata) to queue on completion.
local function wrap(kind, f) return { kind = kind, f = f } end

function M.connect_async(keyspace)
  local c = get_cluster()
  return wrap("session", runtime.spawn(function()
    local s, err = c:connect(keyspace)
    if not s then error(err, 0) end
    -- Rows as arrays: cheaper than tables keyed by name (C reads the cells
    -- anyway), and columns with the same name stay apart.
    s.row_factory = query.tuple_factory
    return s
  end))
end

--- Runs a statement: CQL text or a PreparedStatement, its values (array
-- with n, or names), options, and `exprs` (key -> Lua expression text of
-- values bound with cqlua_statement_bind_lua, evaluated now).
function M.execute(session, statement, values, opts, exprs)
  if exprs then
    for k, expr in pairs(exprs) do values[k] = eval(expr, "bound value " .. tostring(k)) end
  end
  local ok, f = pcall(session.execute_async, session, statement, values, opts)
  if not ok then
    local msg = tostring(f)
    if msg:find("bad value", 1, true) then fail(E.WRONG_TYPE, "WrongType", msg) end
    error(f, 0)
  end
  return wrap("result", f)
end

function M.prepare(session, cql)
  return wrap("prepared", runtime.spawn(function()
    local ps, err = session:prepare(cql)
    if not ps then error(err, 0) end
    return ps
  end))
end

--- 0 when the future succeeded, else the error's code, name, message and
-- server code.
function M.outcome(w)
  local ok, err = w.f:peek()
  if ok then return 0 end
  return classify(err)
end

--- false while pending, else true and the outcome.
function M.state(w)
  if not w.f:done() then return false end
  return true, M.outcome(w)
end

--- Waits for the wrapper's future (seconds, nil: no limit), then as state.
function M.wait(w, timeout)
  runtime.scheduler():await(w.f, timeout)
  return M.state(w)
end

--- The value of a completed future of `kind`, once.
function M.take(w, kind)
  if w.kind ~= kind then
    fail(E.BAD_ARGUMENT, "BadArgument", "this future yields a " .. w.kind .. ", not a " .. kind)
  end
  if w.taken then fail(E.BAD_ARGUMENT, "BadArgument", "the " .. kind .. " of this future was already taken") end
  local ok, v = w.f:peek()
  if not ok then error(v, 0) end
  w.taken = true
  return v
end

local function enqueue(w)
  if w.handle then
    qtail = qtail + 1
    queue[qtail] = w
  end
end

--- Queues `w` (for its C callback) when its future completes.
function M.watch(w, handle)
  w.handle = handle
  w.f:add_callbacks(function() enqueue(w) end, function() enqueue(w) end)
end

--- The next handle whose callback is due, or nil.
function M.pop_callback()
  while qhead <= qtail do
    local w = queue[qhead]
    queue[qhead] = nil
    qhead = qhead + 1
    if w and w.handle then
      local h = w.handle
      w.handle = nil
      return h
    end
  end
  qhead, qtail = 1, 0
  return nil
end

--- The C handle is gone: never queue it again.
function M.forget(w)
  w.handle = nil
  -- Let go of it now (its result may be a large page) if it is queued.
  for i = qhead, qtail do
    if queue[i] == w then queue[i] = false end
  end
end

--- One turn of the loop (waiting at most `timeout` seconds).
function M.poll(timeout)
  runtime.scheduler():step(timeout)
end

function M.session_close(session)
  session:shutdown()
end

function M.shutdown()
  if cluster then cluster:shutdown() end
end

-- Prepared statements and binding ----------------------------------------------

--- The count of markers, then name and type kind of marker i (0-based).
function M.marker_count(ps) return #ps.column_metadata end
function M.marker(ps, i)
  local col = ps.column_metadata[i + 1]
  return col.name or "", tonumber(col.ctype.kind), codec.type_cql(col.ctype)
end

--- Checks a value for marker i (0-based) of `ps`, as bind would.
function M.check(ps, i, v)
  local col = ps.column_metadata[i + 1]
  if v == nil or v == sentinels.UNSET_VALUE then return end
  local ok, err = pcall(codec.encode, col.ctype, col.encoder, v)
  if not ok then
    fail(E.WRONG_TYPE, "WrongType", ("marker %d '%s' (%s): %s"):format(i, col.name or "?", codec.type_cql(col.ctype),
                                                                   tostring(err)))
  end
end

--- Evaluates a bound Lua expression, checking it for a prepared marker.
function M.eval_value(expr, ps, i)
  local v = eval(expr, "bound value")
  if ps then M.check(ps, i, v) end
  return v
end

local i64p = ffi.typeof("const int64_t *")
--- An int64 cdata from a pointer to a C int64_t (a light userdata).
function M.i64(p) return ffi.cast(i64p, p)[0] end
--- A UUID from its 16 bytes.
M.uuid = uuid.wrap
M.UNSET = sentinels.UNSET_VALUE

-- Results ------------------------------------------------------------------------

local page_ptr = ffi.typeof("cqlua_embed_page *")

--- Writes the current page of `rs` to the C `cqlua_embed_page` at `p`.
function M.page(rs, p)
  local page = ffi.cast(page_ptr, p)
  local res = rawget(rs, "_response")
  if res == nil and #rs.column_names > 0 then
    fail(E.INTERNAL, "InternalError", "cql.embed: the ResultSet has rows but no _response (cql.cluster changed?)")
  end
  page.response = res and res.response or nil
  local ps = rs.paging_state
  page.paging_state = ps
  page.paging_state_len = ps and #ps or 0
  page.has_more = rs.has_more_pages and 1 or 0
end

--- Fetches the next page of `rs` (waits) and describes it at `p`.
function M.next_page(rs, p)
  local ok, err = rs:fetch_next_page()
  if ok == nil then error(err, 0) end
  M.page(rs, p)
end

--- The CQL literal of the value in row `r` and column `c` (both 1-based,
-- current page).
function M.value_text(rs, r, c)
  local row = rs.current_rows[r]
  local v = row and row[c]
  if v == nil then return nil end
  return encoder.cql_encode_all_types(v)
end

return M
