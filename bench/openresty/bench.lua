--- OpenResty benchmark: a prepared SELECT by key served from nginx (2
-- workers), driven by wrk on loopback, beside the floor measured in the
-- same run: the same kind of handler doing one cosocket round trip (from
-- the keepalive pool) to a trivial local echo server with the query's
-- frame sizes. A third row is the server's ceiling for the query: the
-- same SELECT with as many requests in flight from the libuv driver
-- (bench/openresty/ceiling.lua under the runner), so the ratios separate
-- what nginx + the driver cost from what the server costs.
--
--   CQLUA_LIB=build/libcqlua.so luajit bench/openresty/bench.lua [seconds] [connections]
--
-- Needs nginx with the Lua module, wrk, python3 (the echo server) and the
-- Cassandra on CQLUA_TEST_HOSTS (default 127.0.0.1).
package.path = "./?.lua;lua/?.lua;lua/?/init.lua;" .. package.path
local nginx = require "spec.openresty.support.nginx"
local socket = require "socket"

local SECONDS = tonumber(arg[1]) or 10
local CONNECTIONS = tonumber(arg[2]) or 16
local WORKERS = 2

local TEMPLATE = [[
daemon on;
master_process on;
worker_processes ${WORKERS};
pid ${PREFIX}/nginx.pid;
error_log ${PREFIX}/error.log warn;
${MODULES}
events { worker_connections 1024; }
env CQLUA_LIB;
env CQLUA_TEST_HOSTS;
env CQLUA_ECHO_PORT;
http {
  access_log off;
  client_body_temp_path ${PREFIX}/body;
  proxy_temp_path ${PREFIX}/proxy;
  fastcgi_temp_path ${PREFIX}/fastcgi;
  uwsgi_temp_path ${PREFIX}/uwsgi;
  scgi_temp_path ${PREFIX}/scgi;
  lua_package_path "${ROOT}/lua/?.lua;${ROOT}/lua/?/init.lua;${ROOT}/?.lua;;";
  lua_shared_dict cqlua_cluster 1m;
  lua_shared_dict cqlua_prepared 1m;
  lua_shared_dict bench 1m;
  lua_shared_dict bench_latency 4m;
  lua_shared_dict cqlua_stats 1m;
  lua_socket_log_errors off;
  init_worker_by_lua_block { require("bench.openresty.handlers").init_worker() }
  server {
    listen 127.0.0.1:${PORT} backlog=1024;
    location / { content_by_lua_block { require("bench.openresty.handlers").content() } }
  }
}
]]

local function sh(cmd)
  local rc = os.execute(cmd)
  return rc == 0 or rc == true
end

local function capture(cmd)
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  return out
end

local function check_tools()
  for _, t in ipairs({ "wrk", "python3", "nginx" }) do
    if not sh("command -v " .. t .. " >/dev/null 2>&1") then
      io.stderr:write("bench/openresty: ", t, " is not installed\n")
      os.exit(2)
    end
  end
end

local function free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

-- wrk's Requests/sec and 99% latency (ms).
local function run_wrk(url)
  local out = capture(("wrk -t2 -c%d -d%ds --latency %q 2>&1"):format(CONNECTIONS, SECONDS, url))
  local rps = tonumber(out:match("Requests/sec:%s*([%d%.]+)"))
  local v, unit = out:match("\n%s*99%%%s*([%d%.]+)(%a+)")
  local p99 = tonumber(v)
  if p99 then
    if unit == "us" then p99 = p99 / 1000 elseif unit == "s" then p99 = p99 * 1000 end
  end
  local non2xx = tonumber(out:match("Non%-2xx or 3xx responses:%s*(%d+)")) or 0
  local errs = out:match("Socket errors:[^\n]*")
  return { rps = rps, p99 = p99, non2xx = non2xx, errors = errs, raw = out }
end

check_tools()
local echo_port = free_port()
local server, echo_pid
local ok, err = pcall(function()
  server = nginx.start { template = TEMPLATE:gsub("%${WORKERS}", tostring(WORKERS)),
                         env = { CQLUA_ECHO_PORT = tostring(echo_port) } }
  local body, code = server:get("/setup")
  assert(code == 200, "setup failed: " .. tostring(body))
  body, code = server:get("/calibrate")
  assert(code == 200, "calibrate failed: " .. tostring(body))
  local req, resp = body:match("request=(%d+)"), body:match("response=(%d+)")
  req, resp = tonumber(req), tonumber(resp)
  -- The echo server: reads `req` bytes, answers `resp` bytes, per round trip.
  local pidfile = server.prefix .. "/echo.pid"
  assert(sh(("python3 %q %d %d %d %q >%q/echo.log 2>&1 &"):format(
    nginx.ROOT .. "/bench/openresty/echo.py", echo_port, req, resp, pidfile, server.prefix)))
  for _ = 1, 100 do
    local f = io.open(pidfile)
    if f then
      echo_pid = tonumber(f:read("*l"))
      f:close()
      if echo_pid then break end
    end
    socket.sleep(0.05)
  end
  assert(echo_pid, "the echo server did not start")
  body, code = server:get("/floor")
  assert(code == 200, "floor failed: " .. tostring(body))
  -- Warm up both paths, then measure.
  local base = ("http://127.0.0.1:%d"):format(server.port)
  capture(("wrk -t2 -c%d -d2s %q >/dev/null 2>&1"):format(CONNECTIONS, base .. "/cql?k=k1"))
  capture(("wrk -t2 -c%d -d2s %q >/dev/null 2>&1"):format(CONNECTIONS, base .. "/floor"))
  -- Each run is preceded by a reset of the per-worker latencies and
  -- followed by reading them.
  local function measured(path, kind)
    server:get("/reset_latency")
    local r = run_wrk(base .. path)
    r.workers = server:get("/latency?kind=" .. kind)
    return r
  end
  local floor = measured("/floor", "floor")
  local cql = measured("/cql?k=k1", "cql")
  -- The server's ceiling: the same SELECT with as many requests in flight
  -- from the libuv driver in one process (no nginx, no HTTP).
  local runner = os.getenv("CQLUA_RUNNER_BIN") or (nginx.ROOT .. "/build/cqlua")
  local ceiling = capture(("%q %q %d %d 2>&1"):format(runner, nginx.ROOT .. "/bench/openresty/ceiling.lua",
    SECONDS, CONNECTIONS))
  local ceiling_rps, ceiling_p99 = ceiling:match("rps=([%d%.]+) p99_ms=([%d%.%-]+)")
  ceiling_rps, ceiling_p99 = tonumber(ceiling_rps), tonumber(ceiling_p99)
  print(("OpenResty: %d workers, wrk -t2 -c%d -d%ds on loopback; frames: request %d B, response %d B")
    :format(WORKERS, CONNECTIONS, SECONDS, req, resp))
  print(("%-42s %12s %14s %10s"):format("handler", "req/s", "req/s/worker", "p99 ms"))
  local function row(name, r)
    print(("%-42s %12.0f %14.0f %10.2f%s"):format(name, r.rps or 0, (r.rps or 0) / WORKERS, r.p99 or -1,
      (r.non2xx > 0 or r.errors) and ("  (non-2xx: " .. r.non2xx .. "; " .. tostring(r.errors) .. ")") or ""))
  end
  row("prepared SELECT by key (per-request Cluster)", cql)
  row("floor: one cosocket round trip (echo)", floor)
  if ceiling_rps then
    print(("%-42s %12.0f %14s %10.2f"):format("server ceiling: libuv driver, same in flight", ceiling_rps, "-",
      ceiling_p99))
  else
    print("server ceiling: the libuv run failed: " .. ceiling)
  end
  if cql.rps and floor.rps then
    print(("ratio floor/cqlua: %.1fx req/s, p99 %.1fx"):format(floor.rps / cql.rps, cql.p99 / floor.p99))
  end
  -- Per worker, measured inside nginx (header read to answer, 0.1 ms buckets).
  for _, r in ipairs { { "prepared SELECT", cql }, { "floor", floor } } do
    for line in r[2].workers:gmatch("[^\n]+") do
      local pid, n, p99 = line:match("pid=(%d+) n=(%d+) p99_ms=([%d.]+)")
      if pid then
        print(("  %-16s worker %-7s %7.0f req/s  p99 %6.1f ms"):format(r[1], pid, tonumber(n) / SECONDS,
          tonumber(p99)))
      end
    end
  end
  if cql.rps and ceiling_rps then
    print(("ratio ceiling/cqlua: %.1fx req/s"):format(ceiling_rps / cql.rps))
  end
  local st = server:get("/stats")
  print("driver counters (all workers): " .. st:gsub("\n", " "))
end)
if echo_pid then sh("kill " .. echo_pid .. " 2>/dev/null") end
if server then
  local fatal = server:fatal_lines()
  server:stop()
  if #fatal > 0 then
    print("nginx reported:")
    for _, l in ipairs(fatal) do print("  " .. l) end
  end
end
if not ok then
  io.stderr:write("bench/openresty: ", tostring(err), "\n")
  os.exit(1)
end
