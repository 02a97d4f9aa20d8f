-- nginx (2 workers) sharing the cluster state through a lua_shared_dict
-- (cql.ngx), under wrk's load, when a node is killed (SIGKILL): only the
-- requests in flight on that node fail, every request that started after
-- the shared state marked it down succeeds, the state marks it down and,
-- once it is restarted, up again, and requests reach it again. The elected
-- worker is connected to every node, the other data center's included.
-- Uses the 3-node, 2-DC cluster the suite runner manages (nodes 1 and 2 in
-- dc1, node 3 in dc2).
local testenv = require "testenv"
local nginx = require "spec.openresty.support.nginx"
local socket = require "socket"

local hosts = testenv.split(os.getenv("CQLUA_TEST_MULTI_HOSTS"))
local cluster_name = os.getenv("CQLUA_TEST_MULTI_CLUSTER")

local VICTIM_NODE = 2 -- in the contact points' data center: it serves requests
local REMOTE_NODE = 3 -- in the other one: requests never use it
local THREADS, CONNECTIONS, DURATION = 2, 8, 12

local function has_wrk()
  return (testenv.run("command -v wrk")) == 0
end

-- The harness's default configuration with this spec's election (hosts,
-- and the address whose state /state reports) and routes.
local function template(victim)
  local head = assert(nginx.CONF:match("^(.-)%${HTTP_EXTRA}"), "nginx.CONF has no ${HTTP_EXTRA}")
  local init = ('init_worker_by_lua_block { require("spec.multinode.support.ngx_app").init_worker(%q, %q) }')
    :format(table.concat(hosts, ","), victim)
  local replaced
  head, replaced = head:gsub("init_worker_by_lua_block {[^\n]*}", function() return init end)
  assert(replaced == 1, "nginx.CONF has no init_worker_by_lua_block line")
  return head .. [[
  lua_shared_dict kill_results 8m;
  server {
    listen 127.0.0.1:${PORT};
    location / {
      content_by_lua_block { require("spec.multinode.support.ngx_app").content() }
    }
  }
}
]]
end

local function now() return socket.gettime() end

-- Calls `fn` every 0.1 s for at most `limit` seconds until it returns a
-- true value; returns that value and the seconds it took, or nil.
local function poll(limit, fn)
  local t0 = now()
  repeat
    local v = fn()
    if v then return v, now() - t0 end
    socket.sleep(0.1)
  until now() - t0 > limit
  return nil
end

local function parse_record(line)
  local kind, host, down, t0, t1, name = line:match("^(%a+) (%S+) (%d) ([%d.]+) ([%d.]+) ?(%S*)")
  if not kind then return nil end
  return { ok = kind == "ok", host = host, down = down == "1", t0 = tonumber(t0), t1 = tonumber(t1),
           name = name ~= "" and name or nil, line = line }
end

local read_file = testenv.read_file

describe("nginx workers sharing the cluster state (cql.ngx), a node killed", function()
  if not cluster_name then
    pending("skipped: CQLUA_TEST_MULTI_HOSTS names a cluster this run does not manage,"
      .. " so it will not kill its nodes")
    return
  end
  local available, why = nginx.available()
  if not available then
    pending("skipped: " .. why)
    return
  end
  if not has_wrk() then
    pending("skipped: wrk is not installed")
    return
  end

  local cassandra = "scripts/cassandra --cluster " .. testenv.q(cluster_name)
  local victim = hosts[VICTIM_NODE]
  local server
  local killed = {} -- node number -> true while this spec has it down

  local function kill(node)
    killed[node] = true
    local rc, out = testenv.run(cassandra .. " kill-node " .. node)
    assert.are.equal(0, rc, out)
  end

  local function restart(node)
    local rc, out = testenv.run(cassandra .. " start-node " .. node .. " 80")
    assert.are.equal(0, rc, out)
    killed[node] = nil
  end

  local function get(path)
    return server:get(path, 15)
  end

  -- What the shared state says of `address` (the victim by default).
  local function state(address)
    local body = get("/state" .. (address and ("?host=" .. address) or ""))
    return { is_up = body:match("is_up=(%S+)"), hosts = tonumber(body:match("hosts=(%d+)")),
             up = tonumber(body:match("up=(%d+)")), connected = tonumber(body:match("connected=(%d+)")),
             reconnecting = body:match("reconnecting=(%S+)"),
             next_attempt = tonumber(body:match("next_attempt=([%d%.]+)")) }
  end

  -- The elected worker's own verdict on `address`, from the error log.
  local function holder_down_reason(address)
    local pattern = "cqlua: host " .. address:gsub("%.", "%%.") .. ":%d+ is down: ([^\n]-), context: ngx%.timer"
    return server:error_log():match(pattern)
  end

  lazy_setup(function()
    assert(victim and hosts[REMOTE_NODE], "CQLUA_TEST_MULTI_HOSTS names fewer than 3 hosts")
    -- Two replicas in dc1, so LOCAL_ONE reads keep working with one down.
    local Cluster = require("cql.cluster").Cluster
    local setup = Cluster { contact_points = { hosts[1] }, schema_metadata_enabled = false }
    local s = assert(setup:connect())
    assert(s:execute("CREATE KEYSPACE IF NOT EXISTS ngx_kill WITH replication = "
      .. "{'class': 'NetworkTopologyStrategy', 'dc1': 2, 'dc2': 1}"))
    assert(s:execute("CREATE TABLE IF NOT EXISTS ngx_kill.kv (k text PRIMARY KEY, v text)"))
    for i = 1, 10 do
      assert(s:execute("INSERT INTO ngx_kill.kv (k, v) VALUES (%s, %s)", { "k" .. i, "value " .. i },
                       { consistency_level = 5 })) -- ALL: every replica has the rows
    end
    setup:shutdown()
    server = nginx.start { template = template(victim) }
    -- The elected worker has published the three nodes, the victim up.
    assert(poll(20, function()
      local x = state()
      return x.hosts == #hosts and x.up == #hosts and x.is_up == "true"
    end), "the shared state never listed every node up")
  end)

  lazy_teardown(function()
    -- Bring back whatever a failed test left down, for the specs that follow.
    for node in pairs(killed) do testenv.run(cassandra .. " start-node " .. node .. " 120") end
    if server then server:stop() end
  end)

  it("fails only the requests in flight on it, marks it down, then up after a restart", function()
    assert.truthy(poll(10, function() return select(2, get("/query")) == 200 end), "no request succeeded")
    local tmp = testenv.tmpdir()
    finally(function() testenv.rm(tmp) end)

    -- wrk drives the load in the background; it leaves a marker when done.
    os.execute(("(wrk -t%d -c%d -d%ds --timeout 10s http://127.0.0.1:%d/query >%s/wrk.out 2>&1; "
      .. "touch %s/wrk.done) >/dev/null 2>&1 &"):format(THREADS, CONNECTIONS, DURATION, server.port, tmp, tmp))

    -- The victim is serving requests when it is killed.
    assert.truthy(poll(DURATION / 2, function() return tonumber((get("/count?host=" .. victim))) >= 20 end),
      "the victim served too few requests before the kill")
    local t_kill = now()
    kill(VICTIM_NODE)

    -- The shared state marks it down.
    assert.truthy(poll(20, function() return state().is_up == "false" end),
      "the shared state did not mark the killed node down within 20 s")
    local t_down = now()
    -- ... with its reconnection schedule: retried at most 10 s from now.
    local down_state
    assert.truthy(poll(5, function()
      down_state = state()
      return down_state.reconnecting == "true" and down_state.next_attempt ~= nil
    end), "the shared state shows no reconnection schedule for the down node")
    assert.is_true(down_state.next_attempt >= t_kill and down_state.next_attempt <= now() + 10.5,
      ("next attempt at %s, kill at %.3f"):format(tostring(down_state.next_attempt), t_kill))

    -- wrk finishes (bounded: it stops by itself after DURATION seconds).
    assert.truthy(poll(DURATION + 30, function() return read_file(tmp .. "/wrk.done") end), "wrk did not finish")
    local wrk_out = read_file(tmp .. "/wrk.out")
    assert.truthy(wrk_out:match("(%d+) requests in"), wrk_out)
    assert.is_nil(wrk_out:match("timeout [1-9]"), "a request was held past wrk's 10 s timeout:\n" .. wrk_out)

    -- Every request's record.
    local body = get("/records")
    local n, lost = body:match("^n=(%d+) lost=(%d+)")
    assert.are.equal("0", lost, "records lost")
    local records, oks, fails, after_down, victim_before = {}, 0, {}, {}, 0
    for line in body:gmatch("[^\n]+") do
      if not line:match("^n=") then
        local r = parse_record(line)
        assert.truthy(r, "bad record: " .. line)
        records[#records + 1] = r
        if r.ok then
          oks = oks + 1
          if r.host == victim and r.t1 < t_kill then victim_before = victim_before + 1 end
        else
          fails[#fails + 1] = r
        end
        if r.down then after_down[#after_down + 1] = r end
      end
    end
    assert.are.equal(tonumber(n), #records)
    local last_failure = 0
    for _, r in ipairs(fails) do
      last_failure = math.max(last_failure, r.t1)
      print(("# failed: %s (%.3f s to %.3f s after kill-node began)"):format(r.line, r.t0 - t_kill, r.t1 - t_kill))
    end
    -- The failures: each names the victim alone, ended after the kill began
    -- and started before the state marked it down. Their number: one per
    -- wrk connection in flight when the node died, plus at most one more
    -- per connection sent to the dying node while the kernel was still
    -- tearing its sockets down (a SIGKILLed JVM stops answering ~100 ms
    -- before its sockets close).
    for _, r in ipairs(fails) do
      assert.are.equal(victim, r.host, "a failure names another host: " .. r.line)
      assert.is_true(r.t1 >= t_kill, "a failure before the kill: " .. r.line)
      assert.is_true(r.t0 <= t_down, "a failure started after the node was seen down: " .. r.line)
      assert.is_false(r.down, "a failure started from a state that marked the node down: " .. r.line)
    end
    assert.is_true(#fails <= 2 * CONNECTIONS,
      #fails .. " failures, more than twice wrk's " .. CONNECTIONS .. " connections")
    -- Requests that started from a state marking the node down: all
    -- succeeded, none on it; there were many.
    local first_down = math.huge
    for _, r in ipairs(after_down) do
      assert.is_true(r.ok, "a request started after the node was seen down failed: " .. r.line)
      assert.are_not.equal(victim, r.host, r.line)
      first_down = math.min(first_down, r.t0)
    end
    assert.is_true(#after_down >= 20, "too few requests after the node was seen down: " .. #after_down)
    assert.is_true(victim_before >= 20, "the victim served " .. victim_before .. " requests before the kill")
    assert.is_true(oks >= 200 and oks >= 0.95 * #records, ("%d successes of %d requests"):format(oks, #records))
    -- The elected worker convicted it by its broken connection.
    local reason = holder_down_reason(victim)
    assert.truthy(reason, "the elected worker did not log the node down")
    assert.is_nil(reason:match("reported it DOWN"), reason)
    print(("# %d requests: %d ok, %d failed (%s), %d from a state marking the node down; the first of those"
      .. " started %.3f s after the last failure (%.1f s after kill-node began)"):format(
      #records, oks, #fails, #fails > 0 and fails[1].name or "-", #after_down,
      #fails > 0 and first_down - last_failure or -1, first_down - t_kill))
    print("# the elected worker: " .. reason)

    -- Restarted, the node is marked up again and serves requests.
    local t_start = now()
    restart(VICTIM_NODE)
    local restarted = now()
    assert.truthy(poll(90 - (now() - t_start), function() return state().is_up == "true" end),
      "the shared state did not mark the restarted node up within 90 s of start-node")
    print(("# start-node took %.1f s; marked up %.1f s after it returned"):format(restarted - t_start,
                                                                                 now() - restarted))
    local reached = false
    for _ = 1, 100 do
      local b, code = get("/query")
      assert.are.equal(200, code, b)
      if b:match("^ok (%S+)") == victim then
        reached = true
        break
      end
    end
    assert.is_true(reached, "no request reached the restarted node")
    assert.are.same({}, server:fatal_lines())
    -- One named local data center: no per-request guess (and warning).
    assert.is_nil(server:error_log():match("span several data centers"))
  end)

  it("has the elected worker connected to every node, in both data centers", function()
    -- Known up (not merely not known down): the elected worker has a
    -- connection to each, the other data center's node included, so a
    -- node dying anywhere is convicted by its broken connection, as the
    -- victim above was, rather than by the server's DOWN event seconds later.
    local st = poll(20, function()
      local x = state(hosts[REMOTE_NODE])
      return x.connected == #hosts and x
    end)
    assert.truthy(st, "the elected worker is not connected to every node")
    assert.are.equal("true", st.is_up)
  end)
end)
