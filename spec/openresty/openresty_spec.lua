-- The driver inside a real nginx (Debian's nginx-light + lua-nginx-module),
-- 2 workers on loopback, against the real Cassandra: the handlers are in
-- support/app.lua, the nginx harness in support/nginx.lua.
local nginx = require "spec.openresty.support.nginx"

local parse = nginx.parse_kv

local available, why = nginx.available()

describe("cqlua inside nginx", function()
  if not available then
    pending("nginx with the Lua module is not installed: " .. tostring(why))
    return
  end

  local server

  local function get(path)
    local body, code = server:get(path)
    assert.are.equal(200, code, ("GET %s: %s %s"):format(path, tostring(code), tostring(body)))
    return parse(body), body
  end

  local function stats() return get("/stats") end

  setup(function()
    server = nginx.start()
    local r, body = get("/setup")
    assert.are.equal("done", r.setup, body)
  end)

  teardown(function()
    if server then
      local fatal = server:fatal_lines()
      server:stop()
      assert.are.same({}, fatal)
    end
  end)

  it("does CRUD and a batch from a content handler", function()
    local r = get("/crud?k=crud1")
    assert.are.equal("1", r.after_insert)
    assert.are.equal("2", r.after_update)
    assert.are.equal("none", r.after_delete)
    assert.are.equal("23", r.batch_sum)
  end)

  it("pages through a partition, automatically and page by page", function()
    local r = get("/paging")
    assert.are.equal("230", r.rows)
    assert.are.equal(tostring(230 * 231 / 2), r.sum)
    assert.are.equal("50", r.first_page)
    assert.are.equal("5", r.pages)
  end)

  it("pools authenticated connections per credentials, never across them", function()
    -- A fake node on purpose: the integration node has authentication off,
    -- and the test server counts nothing we need beyond a login.
    local test_server = require "test_server"
    local srv = test_server.start({ auth = { username = "app", password = "s3cret" } }, { max_seconds = 120 })
    finally(srv.stop)
    local path = "/auth_query?port=" .. srv.port .. "&user=app&password=s3cret"
    for _ = 1, 6 do assert.are.equal("local", get(path).result) end
    local before = stats()
    for _ = 1, 10 do assert.are.equal("local", get(path).result) end
    local after = stats()
    -- Without pooling each request would log in twice (control and pool
    -- connection): 20 handshakes. A worker that got none of the warm-up
    -- requests may log in once here (2 handshakes); every other request
    -- reuses both connections.
    local handshakes = tonumber(after.handshakes) - tonumber(before.handshakes)
    local reused = tonumber(after.reused) - tonumber(before.reused)
    assert.is_true(handshakes <= 2, handshakes .. " handshakes")
    assert.is_true(reused >= 18, reused .. " connections reused")
    -- A wrong password never gets a connection another login opened.
    for _ = 1, 4 do
      local r = get("/auth_query?port=" .. srv.port .. "&user=app&password=wrong")
      assert.are.equal("refused", r.result)
      assert.are.equal("AuthenticationFailed", r.error)
    end
  end)

  it("prepares and executes statements, with the same id in every request and worker", function()
    local ids, workers = {}, {}
    for i = 1, 12 do
      local r = get("/prepared?k=prep" .. i .. "&v=" .. i)
      assert.are.equal(tostring(i), r.value)
      ids[r.id] = true
      workers[r.worker] = true
    end
    local nids, nworkers = 0, 0
    for _ in pairs(ids) do nids = nids + 1 end
    for _ in pairs(workers) do nworkers = nworkers + 1 end
    assert.are.equal(1, nids)
    -- connection: close on every request spreads them over both workers
    -- most of the time; one worker alone is not a failure of the driver.
    assert.is_true(nworkers >= 1)
  end)

  it("shares prepared statements across requests and workers (no PREPARE round trip)", function()
    -- A round in which the server forgot a statement on its own (it
    -- evicts under prepared-statement pressure: UNPREPARED, re-prepare,
    -- the cache dropped) proves nothing about sharing: up to 3 rounds.
    for _ = 1, 3 do
      get("/prepared?k=warm&v=1")
      local before, forgotten = stats(), 0
      for i = 1, 10 do
        local r = get("/prepared?k=share" .. i .. "&v=" .. i)
        assert.are.equal(tostring(i), r.value)
        forgotten = forgotten + tonumber(r.reprepared)
      end
      local after = stats()
      if forgotten == 0 then
        assert.are.equal(before.prepare_misses, after.prepare_misses)
        assert.are.equal(20, tonumber(after.prepare_hits) - tonumber(before.prepare_hits))
        return
      end
    end
    error("the server forgot prepared statements in every round")
  end)

  it("caches a PREPARE answered with server warnings (the message after them)", function()
    -- Fake: a real node warns on PREPAREs only while its prepared-statement
    -- cache is evicting (for a minute after), which a spec cannot order.
    local test_server = require "test_server"
    local srv = test_server.start({ { when = { opcode = "PREPARE" },
      reply = { prepared = true, warnings = { "prepared statements discarded in the last minute" } } } },
      { max_seconds = 120 })
    finally(srv.stop)
    -- Each worker caches on its first PREPARE; the requests reach both.
    local hits = 0
    for _ = 1, 10 do hits = hits + tonumber(get("/prepare_on?port=" .. srv.port).hit) end
    assert.is_true(hits >= 8, hits .. " of 10 PREPAREs answered from the cache")
  end)

  it("re-prepares after an UNPREPARED when the server does not know a cached statement", function()
    -- A server evicting prepared statements (after the integration suite's
    -- thousands) may forget one it has just prepared and answer UNPREPARED
    -- on its own: step 1 (prepare, execute) is repeated until it ran
    -- without one, so that step 2's UNPREPARED is the altered cache's.
    local function clean_step1()
      local r
      for _ = 1, 5 do
        r = get("/reprepare?step=1")
        assert.are.equal("10", r.value)
        if r.reprepared == "0" then return r end
      end
      error("every execute needed a re-prepare: " .. tostring(r.reprepared))
    end
    clean_step1()
    local r = get("/reprepare?step=2")
    assert.are.equal("10", r.value)
    assert.are.equal("1", r.hit)                     -- the PREPARE came from the (altered) cache,
    assert.is_true(tonumber(r.reprepared) >= 1)      -- the server said UNPREPARED, the session prepared again,
    assert.is_true(tonumber(r.invalidated) >= 1)     -- and the cache was dropped
    clean_step1()                                    -- prepared on the server again, then cached
  end)

  it("runs queries in rewrite and access handlers", function()
    assert.truthy(get("/crud?k=rw0")) -- makes sure the table exists
    local _, body = get("/rewrite")
    assert.are.equal("value=none\n", body)
    _, body = get("/access")
    assert.are.equal("value=none\n", body)
  end)

  it("runs queries in an ngx.timer callback", function()
    local r = get("/timer?k=t1")
    assert.are.equal("42", r.timer_result)
  end)

  it("shares one connection between execute_async, execute_concurrent and light threads", function()
    local r = get("/concurrent")
    assert.are.equal("40", r.async_ok)
    assert.are.equal("60", r.concurrent_ok)
    assert.are.equal("40", r.threads_ok)
    assert.are.equal("2", r.connections) -- the control connection and one pool connection
  end)

  it("reads several connections with requests in flight at once", function()
    for _ = 1, 3 do
      local r = get("/multi")
      assert.are.equal("100", r.ok)
      assert.are.equal("3", r.connections) -- control + 2 pool connections
      assert.is_true(tonumber(r.reader_threads) >= 2)
    end
  end)

  it("takes connections from the keepalive pool without a new handshake", function()
    for _ = 1, 6 do get("/query?k=warm") end -- both workers have pooled connections now
    local before = stats()
    for _ = 1, 10 do
      local r = get("/query?k=nothing")
      assert.are.equal("none", r.value)
    end
    local after = stats()
    assert.are.equal(before.handshakes, after.handshakes)
    assert.are.equal(before.control_handshakes, after.control_handshakes)
    -- Each request takes its control and its pool connection from the pool.
    assert.are.equal(20, tonumber(after.reused) - tonumber(before.reused))
    assert.are.equal(20, tonumber(after.pooled) - tonumber(before.pooled))
    assert.are.equal(before.closed, after.closed)
    -- and the node list (system.local, system.peers_v2) mostly from the 1 s cache
    assert.is_true(tonumber(after.system_hits) - tonumber(before.system_hits) >= 10)
  end)

  it("closes, never pools, a connection whose request timed out", function()
    local r = get("/timeout")
    if r.timed_out ~= "1" then
      pending("no request timed out at 0.5 ms on this machine")
      return
    end
    assert.are.equal("1", r.pooled) -- the control connection
    assert.are.equal("1", r.closed) -- the pool connection
    -- The next requests still work.
    assert.are.equal("none", get("/query?k=after-timeout").value)
  end)

  it("returns NoHostAvailable when nothing listens, without leaving a connection open", function()
    local r = get("/unreachable")
    assert.are.equal("nil", r.session)
    assert.are.equal("NoHostAvailable", r.name)
    assert.is_true(tonumber(r.elapsed) < 1)
    assert.are.equal("0", r.open)
  end)

  it("fails a wait for a future nothing can complete instead of holding the request", function()
    local r = get("/stall")
    assert.are.equal("false", r.ok)
    assert.matches("nothing can produce", r.err, 1, true)
    assert.is_true(tonumber(r.elapsed) < 2)
  end)

  it("logs through ngx.log", function()
    local tag = "tag" .. os.time()
    get("/log?tag=" .. tag)
    assert.matches("%[warn%][^\n]*cqlua: test message " .. tag, server:error_log())
  end)

  it("refuses a Cluster used outside the handler that made it, with a clear error", function()
    local r = get("/cross_phase")
    assert.are.equal("false", r.ok)
    assert.matches("created in the 'rewrite' phase", r.err, 1, true)
  end)

  describe("shared cluster state (lua_shared_dict)", function()
    local function wait_state(pred)
      local r
      for _ = 1, 100 do
        r = get("/shared_state")
        if pred(r) then return r end
        require("socket").sleep(0.1)
      end
      return r
    end

    it("is written by one elected worker and read by every worker", function()
      local r = wait_state(function(x) return x.hosts ~= nil end)
      assert.are.equal("1", r.hosts)
      assert.are.equal("true", r.is_up)
      assert.truthy(r.datacenter and r.datacenter ~= "")
      assert.are.equal(r.holder, r.written_by)
      assert.is_true(tonumber(r.age) < 3) -- refreshed every 0.5 s
      local holders = {}
      for _ = 1, 10 do
        local x = get("/shared_state")
        holders[x.holder] = true
        assert.is_true(tonumber(x.running_timers) <= 1)
        assert.is_true(tonumber(x.pending_timers) <= 1)
      end
      local n = 0
      for _ in pairs(holders) do n = n + 1 end
      assert.are.equal(1, n)
    end)

    it("gives request clusters the known hosts as contact points", function()
      local before = stats()
      local r = get("/shared_cluster") -- its own contact point (127.0.0.254) answers nothing
      assert.are.equal("127.0.0.1", r.contact_points)
      assert.are.equal("0", r.rows)
      -- The node list came from the shared dict: no control connection.
      assert.are.equal("no", r.control)
      assert.are.equal(before.control_handshakes, stats().control_handshakes)
    end)

    it("moves the control role on reload, serving every request meanwhile", function()
      local socket = require "socket"
      local old = wait_state(function(x) return x.hosts ~= nil end).holder
      local old_workers = {}
      for _ = 1, 10 do old_workers[get("/shared_state").worker] = true end
      local function sh(cmd)
        local rc = os.execute(cmd)
        return rc == 0 or rc == true
      end
      assert.is_true(sh("kill -HUP " .. server.pid))
      local failures, n = 0, 0
      local t0 = socket.gettime()
      while socket.gettime() - t0 < 3 do
        local body, code = server:get("/query?k=reload")
        n = n + 1
        if code ~= 200 or not body:match("value=none") then failures = failures + 1 end
      end
      assert.are.equal(0, failures, n .. " requests during the reload")
      local r = wait_state(function(x) return x.holder ~= old and x.holder ~= "none" and x.written_by == x.holder end)
      assert.are_not.equal(old, r.holder)
      assert.is_nil(old_workers[r.holder])
      for pid in pairs(old_workers) do
        local gone = false
        for _ = 1, 100 do
          if not sh("kill -0 " .. pid .. " 2>/dev/null") then
            gone = true
            break
          end
          socket.sleep(0.1)
        end
        assert.is_true(gone, "old worker " .. pid .. " still running")
      end
      assert.are.same({}, server:fatal_lines())
    end)
  end)

  describe("in phases without cosockets", function()
    local function check_phase(phase, trigger)
      if trigger then server:get(trigger) end
      local r, body
      for _ = 1, 20 do -- the log phase runs after the response went out
        r, body = get("/phase_result?phase=" .. phase)
        if r.result ~= "none" then break end
        require("socket").sleep(0.05)
      end
      assert.matches("name=UnsupportedOperation phase=" .. phase .. " ", body, 1, true)
      assert.matches("ngx.timer.at(0, function(premature)", body, 1, true)
      assert.matches("'" .. phase .. "' phase", body, 1, true)
      local elapsed = tonumber(body:match("elapsed=([%d.]+)"))
      assert.is_true(elapsed < 0.05) -- an error at once, not a hang
    end

    it("raises the documented error in init_worker", function() check_phase("init_worker") end)
    it("raises the documented error in log", function() check_phase("log", "/phase/log") end)
    it("raises the documented error in header_filter", function()
      check_phase("header_filter", "/phase/header_filter")
    end)
    it("raises the documented error in body_filter", function()
      check_phase("body_filter", "/phase/body_filter")
    end)
    it("raises the documented error in set_by_lua", function()
      local body = server:get("/phase/set")
      assert.matches("name=UnsupportedOperation phase=set ", body, 1, true)
    end)
    it("leaves the workers serving requests", function()
      assert.are.equal("none", get("/query?k=after-phases").value)
      assert.are.same({}, server:fatal_lines())
    end)
  end)
end)
