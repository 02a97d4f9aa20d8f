--- The server's ceiling for the OpenResty benchmark: the same prepared
-- SELECT by key with the same number of requests in flight, from the
-- libuv driver (no nginx, no HTTP, one long-lived session). Run by
-- bench/openresty/bench.lua with the runner:
--
--   cqlua bench/openresty/ceiling.lua SECONDS IN_FLIGHT
--
-- Prints `rps=<requests per second> p99_ms=<99th percentile latency>`.
local runtime = require "cql.runtime"
local Cluster = require("cql.cluster").Cluster

local seconds, in_flight = tonumber(arg[1]) or 10, tonumber(arg[2]) or 16
local hosts = {}
for a in (os.getenv("CQLUA_TEST_HOSTS") or "127.0.0.1"):gmatch("[^,%s]+") do hosts[#hosts + 1] = a end

local cluster = Cluster { contact_points = hosts }
local session = assert(cluster:connect("ngx_test"))
local ps = assert(session:prepare("SELECT v FROM bench_kv WHERE k = ?"))
local now = function() return cluster.host:now() end

local latencies, failures = {}, 0
local function worker(deadline)
  while now() < deadline do
    local t0 = now()
    if session:execute(ps, { "k1" }) then
      latencies[#latencies + 1] = now() - t0
    else
      failures = failures + 1
    end
  end
end

-- One second of warm-up, then the measured run.
local function run(duration)
  local deadline = now() + duration
  local futures = {}
  for i = 1, in_flight do futures[i] = runtime.spawn(worker, deadline) end
  for _, f in ipairs(futures) do f:result() end
end
run(1)
latencies, failures = {}, 0
local t0 = now()
run(seconds)
local elapsed = now() - t0
table.sort(latencies)
local p99 = latencies[math.max(1, math.ceil(#latencies * 0.99))] or -0.001
print(("rps=%.0f p99_ms=%.2f failures=%d"):format(#latencies / elapsed, p99 * 1000, failures))
cluster:shutdown()
