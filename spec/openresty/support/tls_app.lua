--- The handlers of spec/openresty/tls_spec.lua: clusters with ssl_options
-- against a TLS node, inside nginx (`location /tls/`).
--
-- GET /tls/seq?host=A&steps=S runs the steps one after the other in this
-- request, each with its own Cluster (connect, query, shutdown: pooled
-- sockets go back to the keepalive pool). A step is a comma-separated list
-- of settings: `v=0|1` (verify), `c=0|1` (check_hostname), `n=NAME`
-- (server_name), `ca=FILE`, `cert=FILE`, `key=FILE`, `op=crud` (CRUD and a
-- prepared SELECT instead of one query), `h=ADDRESS` and `p=PORT` (another
-- server than `host`), `t=SECONDS` (connect_timeout). Steps are separated
-- by `;`. The
-- answer has, per step i: `i_ok`, `i_handshakes` and `i_reused` (this
-- worker's counters during the step), and on failure `i_error_name`,
-- `i_error` (the whole error), `i_host_error` (the per-host error of a
-- NoHostAvailable) and `i_option` (of an UnsupportedOperation).
-- luacheck: globals ngx
local M = {}
local must = require("spec.openresty.support.serve").must

local KS = "ngx_tls_test"

local function check(v, err, what)
  if v == nil then error((what or "call") .. ": " .. tostring(err), 0) end
  return v
end

local function parse_step(text)
  local st = {}
  for k, v in text:gmatch("([%w_]+)=([^,]*)") do st[k] = v end
  return st
end

local function ssl_options(st)
  local o = { verify = st.v ~= "0", check_hostname = st.c ~= "0" }
  if st.n and st.n ~= "" then o.server_name = st.n end
  if st.ca then o.ca_file = st.ca end
  if st.cert then o.cert_file, o.key_file = st.cert, st.key end
  return o
end

local function crud(s)
  local ins = must("prepare insert", s:prepare("INSERT INTO kv (k, v) VALUES (?, ?)"))
  local sel = must("prepare select", s:prepare("SELECT v FROM kv WHERE k = ?"))
  check(s:execute(ins, { "tls", 41 }))
  local first = check(s:execute(sel, { "tls" })):one()
  check(s:execute("UPDATE kv SET v = %s WHERE k = %s", { 42, "tls" }))
  local second = check(s:execute(sel, { "tls" })):one()
  check(s:execute("DELETE FROM kv WHERE k = %s", { "tls" }))
  local gone = check(s:execute(sel, { "tls" })):one()
  return ("%s,%s,%s"):format(first and first.v, second and second.v, gone and gone.v or "none")
end

-- One Cluster with the step's settings: returns a result table.
local function run_step(host, st)
  local Cluster = require("cql.cluster").Cluster
  local made, cluster = pcall(Cluster, { contact_points = { st.h or host }, port = tonumber(st.p) or 9042,
                                         schema_metadata_enabled = false, token_metadata_enabled = false,
                                         connect_timeout = tonumber(st.t) or 5, ssl_options = ssl_options(st) })
  local function raised(e)
    return { ok = 0, error_name = type(e) == "table" and e.name or "raised", error = tostring(e),
             option = type(e) == "table" and e.option or nil }
  end
  -- Settings nginx cannot honour raise an error object when the Cluster is made.
  if not made then return raised(cluster) end
  local connected, session, err = pcall(cluster.connect, cluster, KS)
  if not connected then
    cluster:shutdown()
    return raised(session)
  end
  if not session then
    cluster:shutdown()
    local host_error
    for _, e in pairs(err.errors or {}) do host_error = tostring(e) end
    return { ok = 0, error_name = err.name, error = tostring(err), host_error = host_error }
  end
  local done, res = pcall(function()
    if st.op == "crud" then return crud(session) end
    return check(session:execute("SELECT release_version FROM system.local")):one().release_version
  end)
  cluster:shutdown()
  if not done then return { ok = 0, error_name = "query", error = tostring(res) } end
  return { ok = 1, result = res }
end

local routes = {}

function routes.setup(args)
  local Cluster = require("cql.cluster").Cluster
  local cluster = Cluster { contact_points = { args.host }, schema_metadata_enabled = false,
                            token_metadata_enabled = false,
                            ssl_options = { server_name = args.name } }
  local s, err = cluster:connect()
  if not s then
    cluster:shutdown()
    error("connect: " .. tostring(err), 0)
  end
  local ok, res = pcall(function()
    must("keyspace", s:execute("CREATE KEYSPACE IF NOT EXISTS " .. KS
      .. " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"))
    must("table", s:execute("CREATE TABLE IF NOT EXISTS " .. KS .. ".kv (k text PRIMARY KEY, v int)"))
  end)
  cluster:shutdown()
  if not ok then error(res, 0) end
  return { setup = "done" }
end

function routes.seq(args)
  local stats = require("cql.host.ngx").stats
  local out = { pid = ngx.worker.pid() }
  local i = 0
  for text in (args.steps or ""):gmatch("[^;]+") do
    i = i + 1
    local h, r = stats.handshakes, stats.reused
    local res = run_step(args.host, parse_step(text))
    res.handshakes, res.reused = stats.handshakes - h, stats.reused - r
    for k, v in pairs(res) do out[i .. "_" .. k] = v end
  end
  out.steps = i
  return out
end

--- The content handler of `location /tls/`.
function M.content()
  require("spec.openresty.support.serve").dispatch(routes, "^/tls/([%w_]+)")
end

return M
