-- Driver benchmark, cqlua side (Lua API). One cell per process:
--
--   build-bench/cqlua bench/drivers/cqlua_bench.lua WORKLOAD INFLIGHT COUNT WARMUP [MODE]
--
-- WORKLOAD is insert, select or scan; INFLIGHT the requests kept in flight
-- (ignored by scan); COUNT the measured requests (for scan: the rows
-- expected); WARMUP the requests run before measuring. MODE is
-- "coroutines" (default: INFLIGHT coroutines, each looping on the
-- yielding session:execute) or "window" (execute_async with callbacks,
-- starting the next request as one completes).
--
-- Prints one line "RESULT {json}" with the figures; see bench/drivers/README.md.
-- The schema and the rows come from `gocql-bench setup` (scripts/bench-drivers).
local ffi = require "ffi"
local Cluster = require("cql.cluster").Cluster
local runtime = require "cql.runtime"

local args = { ... }
local workload = args[1] or "insert"
local inflight = tonumber(args[2] or "1")
local count = tonumber(args[3] or "10000")
local warmup = tonumber(args[4] or "1000")
local mode = args[5] or "coroutines"
local KEYSPACE = "bench_drivers"
local SELECT_KEYS = 10000 -- keys 0..9999 of kv exist (written by the setup)
local VALUE = string.rep("v", 64)

-- Monotonic clock and rusage, declared under our own names so the
-- declarations cannot clash with the driver's.
ffi.cdef [[
typedef struct { int64_t tv_sec; int64_t tv_nsec; } cqb_timespec;
typedef struct { int64_t tv_sec; int64_t tv_usec; } cqb_timeval;
typedef struct { cqb_timeval utime, stime; long maxrss, ixrss, idrss, isrss, minflt, majflt, nswap,
                 inblock, oublock, msgsnd, msgrcv, nsignals, nvcsw, nivcsw; } cqb_rusage;
int cqb_clock_gettime(int clk, cqb_timespec *ts) __asm__("clock_gettime");
int cqb_getrusage(int who, cqb_rusage *ru) __asm__("getrusage");
]]
local CLOCK_MONOTONIC, RUSAGE_SELF = 1, 0
local ts, ru = ffi.new("cqb_timespec"), ffi.new("cqb_rusage")

local function now()
  ffi.C.cqb_clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local function cpu_and_rss()
  ffi.C.cqb_getrusage(RUSAGE_SELF, ru)
  local cpu = tonumber(ru.utime.tv_sec) + tonumber(ru.utime.tv_usec) * 1e-6
            + tonumber(ru.stime.tv_sec) + tonumber(ru.stime.tv_usec) * 1e-6
  return cpu, tonumber(ru.maxrss)
end

local function percentile(sorted, p)
  if #sorted == 0 then return 0 end
  local i = math.ceil(p * #sorted)
  if i < 1 then i = 1 end
  return sorted[i]
end

-- CQLUA_BENCH_CONNS: connections per host, where the driver has pools
-- (default: the driver's default).
local cluster = Cluster { contact_points = { "127.0.0.1" }, compression = false }
local want_conns = tonumber(os.getenv("CQLUA_BENCH_CONNS") or "")
if want_conns then
  if not cluster.set_core_connections_per_host then error("this cqlua has no connection pools", 0) end
  local distance = require("cql.policies").HostDistance.LOCAL
  cluster:set_core_connections_per_host(distance, want_conns)
  if cluster.set_max_connections_per_host then cluster:set_max_connections_per_host(distance, want_conns) end
end
local session = assert(cluster:connect(KEYSPACE))

-- Connections to the node (the control connection not counted) and the
-- protocol version, for the report; from before and after per-host pools.
local function connection_info()
  if session.pools then
    local n = 0
    for _, p in pairs(session.pools) do n = n + p:open_count() end
    return n, cluster.protocol_version
  end
  return 1, session.conn:protocol_version()
end

-- Runs `n` requests with `inflight` of them in flight; `make(i)` gives the
-- statement and values of request i. Latencies (seconds) go into `lat`
-- when given.
local function run_coroutines(ps, make, n, lat)
  local next_i, failure = 0, nil
  local function worker()
    while failure == nil do
      local i = next_i
      if i >= n then return true end
      next_i = i + 1
      local values = make(i)
      local t0 = now()
      local rs, err = session:execute(ps, values)
      local t1 = now()
      if not rs then
        failure = err
        return true
      end
      if lat then lat[i + 1] = t1 - t0 end
    end
  end
  local workers = {}
  for w = 1, math.min(inflight, n) do workers[w] = runtime.spawn(worker) end
  for w = 1, #workers do
    local ok, err = workers[w]:result()
    if not ok then error("worker failed: " .. tostring(err), 0) end
  end
  if failure then error("request failed: " .. tostring(failure), 0) end
end

local function run_window(ps, make, n, lat)
  local started, finished, failure = 0, 0, nil
  local done = require("cql.future").new(runtime.scheduler())
  local issue
  local function on_error(err)
    failure = failure or err
    finished = finished + 1
    if finished == started then done:set_result(true) end
  end
  issue = function()
    local i = started
    started = i + 1
    local t0 = now()
    session:execute_async(ps, make(i)):add_callbacks(function()
      if lat then lat[i + 1] = now() - t0 end
      finished = finished + 1
      if started < n and failure == nil then
        issue()
      elseif finished == started then
        done:set_result(true)
      end
    end, on_error)
  end
  for _ = 1, math.min(inflight, n) do issue() end
  done:result()
  if failure then error("request failed: " .. tostring(failure), 0) end
end

local run = mode == "window" and run_window or run_coroutines

local function report(fields)
  local parts = {}
  for k, v in pairs(fields) do
    parts[#parts + 1] = string.format(type(v) == "string" and "%q: %q" or "%q: %s", k, v)
  end
  print("RESULT {" .. table.concat(parts, ", ") .. "}")
end

local function measure_requests(ps, make)
  run(ps, make, warmup) -- warm up (connection, JIT, server caches)
  collectgarbage()
  local lat = {}
  for i = 1, count do lat[i] = 0 end
  local cpu0 = cpu_and_rss()
  local t0 = now()
  run(ps, make, count, lat)
  local wall = now() - t0
  local cpu1, rss = cpu_and_rss()
  table.sort(lat)
  return { n = count, wall_s = wall, cpu_s = cpu1 - cpu0, p50_us = percentile(lat, 0.5) * 1e6,
           p99_us = percentile(lat, 0.99) * 1e6, maxrss_kb = rss }
end

local result
if workload == "insert" then
  local ps = assert(session:prepare("INSERT INTO kv (k, v) VALUES (?, ?)"))
  local vals = {}
  result = measure_requests(ps, function(i)
    vals[1], vals[2] = i % 100000, VALUE
    return vals
  end)
elseif workload == "select" then
  local ps = assert(session:prepare("SELECT k, v FROM kv WHERE k = ?"))
  local vals = {}
  result = measure_requests(ps, function(i)
    vals[1] = i % SELECT_KEYS
    return vals
  end)
elseif workload == "scan" then
  -- Automatic paging, one page held at a time; the "latency" is the time
  -- to get and consume each page of 5,000 rows.
  local function scan(lat)
    local rs = assert(session:execute("SELECT p, c, v, n FROM scan", nil, { fetch_size = 5000 }))
    local rows, sum, t = 0, 0, now()
    for row, err in rs:rows() do
      if not row then error("scan failed: " .. tostring(err), 0) end
      rows, sum = rows + 1, sum + row.c
      if lat and rows % 5000 == 0 then
        local t1 = now()
        lat[#lat + 1] = t1 - t
        t = t1
      end
    end
    return rows, sum
  end
  if warmup > 0 then -- a partial scan: the first pages
    local rs = assert(session:execute("SELECT p, c, v, n FROM scan", nil, { fetch_size = 5000 }))
    local rows = 0
    for row in rs:rows() do
      rows = rows + 1
      if not row or rows >= warmup then break end
    end
  end
  collectgarbage()
  local lat = {}
  local cpu0 = cpu_and_rss()
  local t0 = now()
  local rows, sum = scan(lat)
  local wall = now() - t0
  local cpu1, rss = cpu_and_rss()
  if rows ~= count then error(("scan returned %d rows, expected %d"):format(rows, count), 0) end
  if sum ~= (count / 1000) * 499500 then error("scan checksum mismatch: " .. sum, 0) end
  table.sort(lat)
  result = { n = rows, wall_s = wall, cpu_s = cpu1 - cpu0, p50_us = percentile(lat, 0.5) * 1e6,
             p99_us = percentile(lat, 0.99) * 1e6, maxrss_kb = rss }
else
  error("unknown workload " .. workload, 0)
end

result.driver = want_conns and ("cqlua-%dconn"):format(want_conns) or "cqlua"
result.workload, result.inflight = workload, workload == "scan" and 1 or inflight
result.conns, result.protocol = connection_info()
result.mode = mode
report(result)
cluster:shutdown()
