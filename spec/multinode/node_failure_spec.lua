-- A node killed (SIGKILL) while requests are in flight on it: every request
-- completes with an error or a result, none hangs, and the process goes on.
-- Uses the multi-node cluster the suite runner manages.
local testenv = require "testenv"
local Cluster = require("cql.cluster").Cluster
local runtime = require "cql.runtime"

local hosts = testenv.split(os.getenv("CQLUA_TEST_MULTI_HOSTS"))
local cluster_name = os.getenv("CQLUA_TEST_MULTI_CLUSTER")

describe("a node killed mid-stream", function()
  if not cluster_name then
    pending("skipped: CQLUA_TEST_MULTI_HOSTS names a cluster this run does not manage,"
      .. " so it will not kill its nodes")
    return
  end

  it("fails the requests in flight on it with errors, never a hang", function()
    local victim = hosts[2]
    -- Only the victim serves requests, so every one in flight is on it.
    local cluster = Cluster { contact_points = { victim },
                              load_balancing_policy = require("cql.policies").WhiteListRoundRobinPolicy { victim } }
    local session = assert(cluster:connect())
    local ok_count, failed, names, started = 0, 0, {}, 0
    local kill_started = false
    local ok, err = runtime.run(function()
      local inflight = {}
      local deadline = runtime.scheduler().host:now() + 30
      local dead = false
      while not dead and runtime.scheduler().host:now() < deadline do
        while #inflight < 200 do
          started = started + 1
          inflight[#inflight + 1] = session:execute_async("SELECT * FROM system.local", nil, { timeout = 10 })
        end
        if not kill_started then
          -- The kill comes from another process a moment after requests
          -- are in flight; this loop keeps about 200 of them there.
          kill_started = true
          os.execute("(sleep 0.3; scripts/cassandra --cluster " .. cluster_name
            .. " kill-node 2) >/dev/null 2>&1 &")
        end
        local f = table.remove(inflight, 1)
        local rs, e = f:result()
        if rs then ok_count = ok_count + 1 else
          failed = failed + 1
          names[e.name] = true
          dead = true
        end
      end
      for _, f in ipairs(inflight) do
        local rs, e = f:result(15)
        if rs then ok_count = ok_count + 1 else
          failed = failed + 1
          names[e.name] = true
        end
      end
    end)
    cluster:shutdown()
    -- Bring the node back for whatever runs next.
    local rc, out = testenv.run("scripts/cassandra --cluster " .. cluster_name .. " start-node 2")
    assert.equal(0, rc, out)
    assert.is_true(ok, tostring(err))
    assert.equal(started, ok_count + failed) -- every request completed one way or the other
    assert.is_true(failed > 0, "the kill happened while requests were in flight")
    assert.is_true(names.ConnectionShutdown or names.ConnectionException or false,
      "the in-flight requests failed because the connection closed")
    assert.is_nil(names.OperationTimedOut, "nothing had to wait for its timeout")
  end)
end)
