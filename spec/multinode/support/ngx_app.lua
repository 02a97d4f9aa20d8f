--- The nginx handlers of spec/multinode/openresty_spec.lua: a prepared
-- SELECT by key through a request Cluster built from the shared cluster
-- state (`cql.ngx.cluster`), each request's outcome recorded in
-- `lua_shared_dict kill_results` for the spec to check.
--
-- A record is one line: `ok <coordinator> <down> <start> <end>` or
-- `err <hosts the error names> <down> <start> <end> <error name>`, where
-- `down` is 1 when the shared state the request started from already
-- marked the victim down, and the times are ngx.now() (seconds).
-- luacheck: globals ngx
local M = {}

local DICT, RESULTS = "cqlua_cluster", "kill_results"
local SELECT = "SELECT v FROM ngx_kill.kv WHERE k = ?"
local KEYS = 10

-- Per worker: init_worker runs in each.
local config = { hosts = {}, victim = nil }

--- Starts the shared-state election; `hosts` is the comma-separated
-- contact points, `victim` the address the spec will kill.
function M.init_worker(hosts, victim)
  for a in hosts:gmatch("[^,%s]+") do config.hosts[#config.hosts + 1] = a end
  config.victim = victim
  require("cql.ngx").start { dict = DICT, contact_points = config.hosts, interval = 0.5 }
end

-- The entry of `address` (the victim by default) in the shared state, or nil.
local function victim_entry(st, address)
  address = address or config.victim
  for _, h in ipairs(st and st.hosts or {}) do
    if h.address == address then return h end
  end
  return nil
end

-- The hosts an error names: its own `host`, else the hosts of a
-- NoHostAvailable's per-host errors.
local function error_hosts(err)
  if type(err) ~= "table" then return "?" end
  if err.host then return tostring(err.host) end
  local names = {}
  for k in pairs(type(err.errors) == "table" and err.errors or {}) do names[#names + 1] = tostring(k) end
  table.sort(names)
  return #names > 0 and table.concat(names, ",") or "?"
end

local routes = {}

-- One request of the load: the record is written whatever happens.
function routes.query()
  local cqlngx = require "cql.ngx"
  ngx.update_time()
  local t0 = ngx.now()
  local v = victim_entry(cqlngx.state(DICT))
  local down = v and v.is_up == false and 1 or 0
  local rs, err
  local ok, perr = pcall(function()
    local cluster = cqlngx.cluster { dict = DICT, contact_points = config.hosts }
    -- No keyspace (no USE): the query names its table, the sockets pool.
    local session, cerr = cluster:connect()
    if session then
      local ps, prerr = session:prepare(SELECT)
      if ps then
        rs, err = session:execute(ps, { "k" .. math.random(1, KEYS) },
                                  { consistency_level = 10, timeout = 5 }) -- LOCAL_ONE
      else
        err = prerr
      end
    else
      err = cerr
    end
    cluster:shutdown()
  end)
  if not ok then rs, err = nil, { name = "LuaError", message = tostring(perr) } end
  ngx.update_time()
  local t1 = ngx.now()
  local line
  if rs then
    line = ("ok %s %d %.3f %.3f"):format(rs.coordinator.address, down, t0, t1)
  else
    line = ("err %s %d %.3f %.3f %s"):format(error_hosts(err), down, t0, t1, tostring(err.name))
  end
  local d = ngx.shared[RESULTS]
  local n = d:incr("n", 1, 0)
  if not d:safe_set("r:" .. n, line) then d:incr("lost", 1, 0) end
  if rs then
    d:incr("ok:" .. rs.coordinator.address, 1, 0)
    ngx.say(line)
  else
    ngx.status = 500
    ngx.say(line, " ", tostring(err))
  end
end

-- What the shared state says about the victim (or `?host=`), and how many
-- hosts are up.
function routes.state()
  local cqlngx = require "cql.ngx"
  local st = cqlngx.state(DICT)
  local v = victim_entry(st, ngx.var.arg_host)
  -- `up`: not known down (what requests connect to); `connected`: known up.
  local up, connected = 0, 0
  for _, h in ipairs(st and st.hosts or {}) do
    if h.is_up ~= false then up = up + 1 end
    if h.is_up == true then connected = connected + 1 end
  end
  ngx.say(("is_up=%s hosts=%d up=%d connected=%d holder=%s reconnecting=%s next_attempt=%s"):format(
    v and tostring(v.is_up) or "unknown", st and #st.hosts or 0, up, connected, tostring(cqlngx.holder(DICT)),
    v and tostring(v.reconnecting), v and tostring(v.next_attempt)))
end

-- Successful requests coordinated by `host` so far.
function routes.count()
  ngx.say(ngx.shared[RESULTS]:get("ok:" .. tostring(ngx.var.arg_host)) or 0)
end

-- Every record, one a line, after `n=<count> lost=<count>`.
function routes.records()
  local d = ngx.shared[RESULTS]
  local n = d:get("n") or 0
  local out = { ("n=%d lost=%d"):format(n, d:get("lost") or 0) }
  for i = 1, n do out[#out + 1] = d:get("r:" .. i) or "missing" end
  ngx.say(table.concat(out, "\n"))
end

--- The content handler: routes by the URI's first segment.
function M.content()
  local route = routes[ngx.var.uri:match("^/([%w_]+)") or ""]
  if not route then
    ngx.status = 404
    return ngx.say("no route ", ngx.var.uri)
  end
  route()
end

return M
