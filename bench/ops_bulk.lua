--- Benchmark of `cqlua load` / `cqlua unload` (issue 8): rows per second
-- and client CPU per row for ROWS rows (default 1,000,000) on the local
-- node, beside cqlsh's COPY FROM / COPY TO when cqlsh is installed
-- (~/.cache/cqlua/bench-venv/bin/cqlsh, or $CQLSH), as ratios.
--
--     build/cqlua bench/ops_bulk.lua [ROWS] [--no-peer] [--concurrency N]
--
-- Each tool runs as its own process under /usr/bin/time (client CPU =
-- user + system of the process and its children); the server's CPU over
-- the same time is read from /proc when its process is found. Table:
-- ops_bench.t (k int, c int, v text, d double, n bigint, PRIMARY KEY (k, c)),
-- ten rows per partition. Work files go to a temporary directory that is
-- removed at the end.
local args = { ... }
local N, peer, concurrency = 1000000, true, nil
for _, a in ipairs(args) do
  if a == "--no-peer" then peer = false
  elseif a:match("^%-%-concurrency=") then concurrency = a:match("=(%d+)$")
  elseif tonumber(a) then N = math.floor(tonumber(a))
  else error("usage: cqlua bench/ops_bulk.lua [ROWS] [--no-peer] [--concurrency=N]") end
end

local function sh(cmd)
  local p = io.popen("( " .. cmd .. " ) 2>&1; echo \"__rc=$?\"")
  local out = p:read("*a")
  p:close()
  local rc = tonumber(out:match("__rc=(%d+)%s*$"))
  return rc, (out:gsub("__rc=%d+%s*$", ""))
end

local runner = arg[-1] or "cqlua"
if not runner:find("/") then runner = "cqlua" end
local hosts = os.getenv("CQLUA_HOSTS") or "127.0.0.1"
local cqlsh = os.getenv("CQLSH") or ((os.getenv("HOME") or "") .. "/.cache/cqlua/bench-venv/bin/cqlsh")
local _, tmp = sh("mktemp -d")
tmp = tmp:gsub("%s+$", "")

local cluster = require("cql.cluster").Cluster()
local session = assert(cluster:connect())
local function x(q) assert(session:execute(q, nil, { timeout = 120 })) end
x("CREATE KEYSPACE IF NOT EXISTS ops_bench WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
x("DROP TABLE IF EXISTS ops_bench.t")
x("CREATE TABLE ops_bench.t (k int, c int, v text, d double, n bigint, PRIMARY KEY (k, c))")

-- The input: CSV in the column order unload writes (k, c, d, n, v).
io.stderr:write(("writing %d rows of CSV...\n"):format(N))
local input = tmp .. "/in.csv"
local f = assert(io.open(input, "w"))
f:write("k,c,d,n,v\n")
local buf = {}
for i = 1, N do
  buf[#buf + 1] = ("%d,%d,%.17g,%d,payload number %d of the benchmark\n"):format(math.floor(i / 10), i % 10, i / 7,
    i * 1000003, i)
  if #buf == 10000 then
    f:write(table.concat(buf))
    buf = {}
  end
end
f:write(table.concat(buf))
f:close()

-- The server's CPU seconds so far (nil when its process is not found).
local function server_cpu()
  local host = hosts:match("[^,]+")
  local _, pid = sh("ss -ltnpH 'sport = :9042' | grep -F '" .. host .. ":9042 ' | head -1")
  pid = tonumber(pid:match("pid=(%d+)"))
  if not pid then return nil end
  local st = io.open("/proc/" .. pid .. "/stat")
  if not st then return nil end
  local s = st:read("*a")
  st:close()
  local fields = {}
  for w in s:match("%) (.*)$"):gmatch("%S+") do fields[#fields + 1] = w end
  local ticks = tonumber(fields[12]) + tonumber(fields[13]) -- utime, stime (fields 14, 15 of stat)
  local _, hz = sh("getconf CLK_TCK")
  return ticks / (tonumber(hz) or 100)
end

-- Runs `cmd` under /usr/bin/time; returns elapsed, client cpu, server cpu, output.
local function timed(name, cmd)
  io.stderr:write(name, "...\n")
  local s0 = server_cpu()
  local rc, out = sh("/usr/bin/time -f 'TIME %e %U %S' " .. cmd)
  local s1 = server_cpu()
  local e, u, sy = out:match("TIME ([%d.]+) ([%d.]+) ([%d.]+)")
  if rc ~= 0 or not e then
    return nil, ("%s failed (status %s):\n%s"):format(name, tostring(rc), out)
  end
  return { elapsed = tonumber(e), cpu = tonumber(u) + tonumber(sy), server = s0 and s1 and (s1 - s0), out = out }
end

local results = {}
local function record(name, r, err)
  if not r then
    io.stderr:write(err, "\n")
    results[#results + 1] = { name = name, failed = err }
    return
  end
  r.name = name
  results[#results + 1] = r
end

local conc = concurrency and (" --concurrency " .. concurrency) or ""
local env = "env CQLUA_HOSTS=" .. hosts .. " "
record("cqlua load", timed("cqlua load",
  env .. runner .. " load ops_bench.t -i " .. input .. " --quiet" .. conc))
local out = tmp .. "/out.csv"
record("cqlua unload", timed("cqlua unload", env .. runner .. " unload ops_bench.t -o " .. out .. " --quiet" .. conc))
local _, lines = sh("wc -l < " .. out)
local unloaded = tonumber(lines:match("%d+")) and tonumber(lines:match("%d+")) - 1
if unloaded ~= N then
  io.stderr:write(("warning: unload wrote %s rows, %d expected\n"):format(tostring(unloaded), N))
end

local have_peer = peer and sh("test -x " .. cqlsh) == 0
if have_peer then
  x("TRUNCATE ops_bench.t")
  local host = hosts:match("[^,]+")
  record("cqlsh COPY FROM", timed("cqlsh COPY FROM", cqlsh .. " " .. host .. " --request-timeout 120 -e "
    .. "\"COPY ops_bench.t (k, c, d, n, v) FROM '" .. input .. "' WITH HEADER = true\""))
  record("cqlsh COPY TO", timed("cqlsh COPY TO", cqlsh .. " " .. host .. " --request-timeout 120 -e "
    .. "\"COPY ops_bench.t (k, c, d, n, v) TO '" .. tmp .. "/peer.csv' WITH HEADER = true\""))
  local _, pl = sh("wc -l < " .. tmp .. "/peer.csv")
  local pn = tonumber(pl:match("%d+"))
  if pn and pn - 1 ~= N then
    io.stderr:write(("warning: cqlsh COPY TO wrote %d rows, %d expected\n"):format(pn - 1, N))
  end
elseif peer then
  io.stderr:write("no cqlsh at " .. cqlsh .. " (pip install cqlsh into ~/.cache/cqlua/bench-venv): no peer numbers\n")
end

print(("\n%d rows, local node (%s)\n"):format(N, hosts))
print(("%-16s %10s %12s %14s %14s"):format("", "rows/s", "elapsed s", "client us/row", "server us/row"))
local by = {}
for _, r in ipairs(results) do
  by[r.name] = r
  if r.failed then
    print(("%-16s failed"):format(r.name))
  else
    print(("%-16s %10.0f %12.1f %14.1f %14s"):format(r.name, N / r.elapsed, r.elapsed, r.cpu * 1e6 / N,
      r.server and ("%.1f"):format(r.server * 1e6 / N) or "?"))
  end
end
local function ratio(a, b, what)
  a, b = by[a], by[b]
  if not a or not b or a.failed or b.failed then return end
  print(("%-16s %9.2fx %12s %13.2fx   (cqlua / cqlsh; rows/s higher is better, cpu lower)"):format(what,
    b.elapsed / a.elapsed, "", a.cpu / b.cpu))
end
print("")
ratio("cqlua load", "cqlsh COPY FROM", "load ratio")
ratio("cqlua unload", "cqlsh COPY TO", "unload ratio")

x("DROP TABLE IF EXISTS ops_bench.t")
cluster:shutdown()
sh("rm -rf " .. tmp)
for _, r in ipairs(results) do
  if r.failed then os.exit(1) end
end
