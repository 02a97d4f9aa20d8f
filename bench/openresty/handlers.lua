--- The handlers of the OpenResty benchmark (bench/openresty/bench.lua).
-- luacheck: globals ngx
local M = {}

local KS = "ngx_test"
local SELECT = "SELECT v FROM bench_kv WHERE k = ?"

local function hosts()
  local out = {}
  for a in (os.getenv("CQLUA_TEST_HOSTS") or "127.0.0.1"):gmatch("[^,%s]+") do out[#out + 1] = a end
  return out
end

function M.init_worker()
  require("cql.ngx").start { dict = "cqlua_cluster", contact_points = hosts() }
end

local function cluster()
  return require("cql.ngx").cluster { dict = "cqlua_cluster", contact_points = hosts() }
end

local routes = {}

-- Each measured request's time in the worker (from nginx reading its
-- header to its answer), in 0.1 ms buckets by kind and worker pid, so
-- that bench.lua can print p99 per worker (wrk's p99 mixes the workers).
local function record_latency(kind)
  ngx.update_time()
  local bucket = math.min(math.floor((ngx.now() - ngx.req.start_time()) * 10000), 100000)
  ngx.shared.bench_latency:incr(("%s:%d:%d"):format(kind, ngx.worker.pid(), bucket), 1, 0)
end

function routes.setup()
  local c = cluster()
  local s = assert(c:connect())
  assert(s:execute("CREATE KEYSPACE IF NOT EXISTS " .. KS
    .. " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"))
  assert(s:execute("CREATE TABLE IF NOT EXISTS " .. KS .. ".bench_kv (k text PRIMARY KEY, v text)"))
  assert(s:execute("INSERT INTO " .. KS .. ".bench_kv (k, v) VALUES ('k1', 'a value of some thirty bytes..')"))
  c:shutdown()
  ngx.say("ok")
end

-- The sizes of one EXECUTE of the SELECT and of its answer, as written and
-- read on the socket.
function routes.calibrate()
  local stats = require("cql.host.ngx").stats
  local c = cluster()
  local s = assert(c:connect(KS))
  local ps = assert(s:prepare(SELECT))
  assert(s:execute(ps, { "k1" }))
  local out0, in0 = stats.bytes_out, stats.bytes_in
  assert(s:execute(ps, { "k1" }))
  local req, resp = stats.bytes_out - out0, stats.bytes_in - in0
  c:shutdown()
  ngx.shared.bench:set("request", req)
  ngx.shared.bench:set("response", resp)
  ngx.say("request=", req, " response=", resp)
end

function routes.cql()
  local c = cluster()
  local s, err = c:connect(KS)
  if not s then
    c:shutdown()
    ngx.status = 503
    return ngx.say(tostring(err))
  end
  local ps, perr = s:prepare(SELECT)
  local rs, qerr
  if ps then rs, qerr = s:execute(ps, { ngx.var.arg_k or "k1" }) end
  c:shutdown()
  if not rs then
    ngx.status = 500
    return ngx.say(tostring(perr or qerr))
  end
  local row = rs:one()
  ngx.say(row and row.v or "")
  record_latency("cql")
end

local request_bytes
function routes.floor()
  if not request_bytes then request_bytes = ("q"):rep(ngx.shared.bench:get("request")) end
  local n = ngx.shared.bench:get("response")
  local sock = ngx.socket.tcp()
  sock:settimeout(5000)
  local ok, err = sock:connect("127.0.0.1", tonumber(os.getenv("CQLUA_ECHO_PORT")))
  if not ok then
    ngx.status = 502
    return ngx.say(err)
  end
  local data
  ok, err = sock:send(request_bytes)
  if ok then data, err = sock:receive(n) end
  if not data then
    sock:close()
    ngx.status = 502
    return ngx.say(err)
  end
  sock:setkeepalive(60000, 64)
  ngx.say(#data)
  record_latency("floor")
end

-- Time of the parts of the /cql work, done `n` times in this request
-- (no HTTP, no concurrency): ms per iteration.
function routes.profile()
  local n = tonumber(ngx.var.arg_n) or 200
  local t = { create = 0, connect = 0, prepare = 0, execute = 0, shutdown = 0 }
  local function clock()
    ngx.update_time()
    return ngx.now()
  end
  for _ = 1, n do
    local t0 = clock()
    local c = cluster()
    local t1 = clock()
    local s = assert(c:connect(KS))
    local t2 = clock()
    local ps = assert(s:prepare(SELECT))
    local t3 = clock()
    assert(s:execute(ps, { "k1" }))
    local t4 = clock()
    c:shutdown()
    local t5 = clock()
    t.create, t.connect = t.create + t1 - t0, t.connect + t2 - t1
    t.prepare, t.execute, t.shutdown = t.prepare + t3 - t2, t.execute + t4 - t3, t.shutdown + t5 - t4
  end
  for _, k in ipairs({ "create", "connect", "prepare", "execute", "shutdown" }) do
    ngx.say(k, "=", ("%.3f"):format(t[k] / n * 1000), " ms")
  end
end

function routes.reset_latency()
  ngx.shared.bench_latency:flush_all()
  ngx.say("ok")
end

-- Per worker: `pid=<pid> n=<requests> p99_ms=<ms>` for `?kind=`.
function routes.latency()
  local kind = ngx.var.arg_kind or "cql"
  local by_pid = {}
  local d = ngx.shared.bench_latency
  for _, key in ipairs(d:get_keys(0)) do
    local k, pid, bucket = key:match("^(%w+):(%d+):(%d+)$")
    if k == kind then
      local w = by_pid[pid] or {}
      by_pid[pid] = w
      w[#w + 1] = { tonumber(bucket), d:get(key) }
    end
  end
  for pid, w in pairs(by_pid) do
    table.sort(w, function(a, b) return a[1] < b[1] end)
    local n = 0
    for _, b in ipairs(w) do n = n + b[2] end
    local seen, p99 = 0, 0
    for _, b in ipairs(w) do
      seen = seen + b[2]
      if seen >= n * 0.99 then
        p99 = (b[1] + 1) / 10
        break
      end
    end
    ngx.say(("pid=%s n=%d p99_ms=%.1f"):format(pid, n, p99))
  end
end

function routes.stats()
  local d = ngx.shared.cqlua_stats
  if not d then return ngx.say("no cqlua_stats dict") end
  for _, k in ipairs(d:get_keys(0)) do ngx.say(k, "=", d:get(k)) end
end

function M.content()
  local name = ngx.var.uri:match("^/([%w_]+)")
  local route = name and routes[name]
  if not route then return ngx.exit(404) end
  route()
end

return M
