-- The ORM (cql.cqlengine) inside a real nginx (nginx-light +
-- lua-nginx-module, 2 workers with reuseport so that connections spread
-- over both) against the real Cassandra: models defined at module level,
-- a named connection registered in init_by_lua and `connection.setup`
-- once per worker in init_worker, every handler
-- (content, rewrite, access, timer) getting its own session lazily and
-- releasing it to the keepalive pool. Handlers: support/orm_app.lua.
local nginx = require "spec.openresty.support.nginx"

local parse = nginx.parse_kv

-- Replaces the one occurrence of `old` in `text` (plain text), or fails:
-- the spec must notice when the harness's configuration changes shape.
local function replace_once(text, old, new)
  local i, j = text:find(old, 1, true)
  assert(i, "not in the nginx configuration: " .. old)
  assert(not text:find(old, j + 1, true), "more than once in the nginx configuration: " .. old)
  return text:sub(1, i - 1) .. new .. text:sub(j + 1)
end

local ORM = 'require("spec.openresty.support.orm_app")'
local LOCATIONS = ([[
    location /orm/ {
      content_by_lua_block { ORM.content() }
    }
    location /orm_rewrite/ {
      rewrite_by_lua_block { ORM.rewrite() }
      content_by_lua_block { ORM.content() }
    }
    location /orm_access/ {
      access_by_lua_block { ORM.access() }
      content_by_lua_block { ORM.content() }
    }
    location /orm_log/ {
      content_by_lua_block { ngx.say("ok") }
      log_by_lua_block { ORM.log() }
    }
]]):gsub("ORM", function() return ORM end)

local function template()
  local conf = nginx.CONF
  local app_init = 'init_worker_by_lua_block { require("spec.openresty.support.app").init_worker() }'
  conf = replace_once(conf, app_init,
    'init_worker_by_lua_block { require("spec.openresty.support.app").init_worker() ' .. ORM .. '.init_worker() }')
  -- One listening socket per worker: the kernel spreads connections over both.
  conf = replace_once(conf, "listen 127.0.0.1:${PORT};", "listen 127.0.0.1:${PORT} reuseport;")
  return replace_once(conf, "    location / {", LOCATIONS .. "    location / {")
end

local available, why = nginx.available()

describe("the ORM inside nginx", function()
  if not available then
    pending("nginx with the Lua module is not installed: " .. tostring(why))
    return
  end

  local server, setup_result

  local function get_any(path)
    local body, code = server:get(path)
    return parse(body), code, body
  end

  local function get(path)
    local r, code, body = get_any(path)
    assert.are.equal(200, code, ("GET %s: %s %s"):format(path, tostring(code), tostring(body)))
    return r, body
  end

  local function stats()
    local r = get("/orm/stats")
    for k, v in pairs(r) do r[k] = tonumber(v) end
    return r
  end

  setup(function()
    server = nginx.start { template = template(), http_extra = "  init_by_lua_block { " .. ORM .. ".init() }\n" }
    setup_result = get("/orm/setup")
    get("/orm/save_get?id=1&name=one&n=1")
  end)

  teardown(function()
    if server then
      local fatal = server:fatal_lines()
      local _, code, body = get_any("/orm/drop")
      server:stop()
      assert.are.same({}, fatal)
      assert.are.equal(200, code, body)
    end
  end)

  it("creates the keyspace and syncs tables (twice) from a content handler", function()
    assert.are.equal("done", setup_result.setup)
    assert.are.equal("230", setup_result.items)
  end)

  it("saves and gets an instance, on one session per request", function()
    local r = get("/orm/save_get?id=2&name=ada&n=36")
    assert.are.equal("ada", r.name)
    assert.are.equal("36", r.n)
    assert.are.equal("true", r.persisted)
    assert.are.equal("true", r.same_session)
  end)

  it("turns DoesNotExist, a structured error, into a 404", function()
    local r, code = get_any("/orm/get?id=424242")
    assert.are.equal(404, code)
    assert.are.equal("Thing.DoesNotExist", r.error)
    assert.are.equal("true", r.is_model_error)
    assert.are.equal("Thing matching query does not exist.", r.message)
    assert.are.equal("one", get("/orm/get?id=1").name)
  end)

  it("filters with operators", function()
    local r = get("/orm/filter")
    assert.are.equal(tostring(11 + 12 + 13 + 14 + 15 + 16 + 17 + 18 + 19 + 20), r.range_sum)
    assert.are.equal("3,5,7", r.in_cs)
    assert.are.equal("230,229,228", r.top3)
    assert.are.equal("31", r.count_gte)
  end)

  it("iterates over more rows than a page, fetching pages transparently", function()
    local r = get("/orm/paging")
    assert.are.equal("230", r.rows) -- 5 pages of 50
    assert.are.equal(tostring(230 * 231 / 2), r.sum)
    assert.are.equal("true", r.ordered)
  end)

  it("updates and deletes instances and query sets", function()
    local r = get("/orm/update_delete")
    assert.are.equal("10", r.instance_update)
    assert.are.equal("bee", r.queryset_update)
    assert.are.equal("Thing.DoesNotExist", r.instance_delete)
    assert.are.equal("0", r.queryset_delete_left)
  end)

  it("writes and reads a user type (created by sync_table) and a set", function()
    local r = get("/orm/udt")
    assert.are.equal("Elm", r.street)
    assert.are.equal("1000", r.zip)
    assert.are.equal("true", r.is_address)
    assert.are.equal("a,b,c", r.tags)
  end)

  it("runs a BatchQuery", function()
    assert.are.equal("one,two,none", get("/orm/batch").batched)
  end)

  it("applies a lightweight transaction, and reports the existing row when not applied", function()
    local r = get("/orm/lwt?id=7")
    assert.are.equal("ann", r.first)
    assert.are.equal("nil", r.second)
    assert.are.equal("LWTException", r.second_error)
    assert.are.equal("true", r.second_is_lwt)
    assert.are.equal("ann", r.existing_owner)
    assert.are.equal("10", r.existing_balance)
    assert.are.equal("nil", r.qs_iff)
    assert.are.equal("ann", r.qs_iff_existing_owner)
    assert.are.equal("5", r.balance)
  end)

  it("runs in a rewrite handler, and the content handler gets its own session", function()
    for _, release in ipairs({ "1", "0" }) do -- "0": the rewrite handler forgets to release
      local r = get("/orm_rewrite/after_rewrite?release=" .. release)
      assert.are.equal("one", r.rewrite)
      assert.are.equal("one", r.content)
      assert.are.equal("true", r.own_session)
    end
  end)

  it("runs in an access handler that answers 404 on DoesNotExist", function()
    local r = get("/orm_access/after_access?id=1")
    assert.are.equal("allowed", r.access)
    assert.are.equal("one", r.name)
    local _, code, body = get_any("/orm_access/after_access?id=999999")
    assert.are.equal(404, code)
    assert.are.equal("error=Thing.DoesNotExist\n", body)
  end)

  it("runs in an ngx.timer callback, released at the end of connection.scoped", function()
    assert.are.equal("from timer/42 released=true", get("/orm/timer?id=300").timer_result)
  end)

  it("takes the node list from the shared dict, or opens a control connection when told not to", function()
    local r = get("/orm/hot")
    assert.are.equal("true", r.node_list)
    assert.are.equal("false", r.control)
    r = get("/orm/plain")
    assert.are.equal("one", r.name)
    assert.are.equal("false", r.node_list)
    assert.are.equal("true", r.control)
    assert.are.equal("true", r.other_cluster)
  end)

  it("never hands a request the session of an earlier request", function()
    local workers = {}
    for _ = 1, 20 do
      local r = get("/orm/fresh")
      assert.are.equal("false", r.reused_previous)
      workers[r.worker] = true
    end
    assert.is_not_nil(next(workers))
  end)

  it("refuses, with a clear error, a session registered by another handler", function()
    local r = get("/orm/foreign_session")
    assert.are.equal("one", r.here)
    assert.matches("ok=false name=CQLEngineException ", r.timer, 1, true)
    assert.matches("its session belongs to another nginx request or handler", r.timer, 1, true)
  end)

  it("reuses pooled connections over many requests on both workers", function()
    -- Warm up until both workers have pooled a connection.
    local workers, n = {}, 0
    for _ = 1, 60 do
      workers[get("/orm/hot").worker] = true
      n = 0
      for _ in pairs(workers) do n = n + 1 end
      if n == 2 then break end
    end
    assert.are.equal(2, n, "requests reached one worker only")
    local before = stats()
    local conns, seen = 0, {}
    for _ = 1, 40 do
      local r = get("/orm/hot")
      assert.are.equal("one", r.name)
      assert.are.equal("false", r.control) -- the node list comes from the shared dict
      conns = conns + tonumber(r.conns)
      seen[r.worker] = true
    end
    local after = stats()
    local nseen = 0
    for _ in pairs(seen) do nseen = nseen + 1 end
    assert.are.equal(2, nseen, "40 requests reached one worker only")
    assert.is_true(conns >= 40)
    assert.are.equal(0, after.handshakes - before.handshakes)
    assert.are.equal(0, after.control_handshakes - before.control_handshakes)
    assert.are.equal(conns, after.reused - before.reused)
    assert.are.equal(conns, after.pooled - before.pooled)
    assert.are.equal(0, after.closed - before.closed)
  end)

  it("survives handlers that forget to release: nothing pooled, later requests work", function()
    local before = stats()
    for _ = 1, 10 do assert.are.equal("one", get("/orm/forget").name) end
    local mid = stats()
    -- nginx closed the forgotten sockets at the end of each request.
    assert.are.equal(0, mid.pooled - before.pooled)
    for _ = 1, 10 do
      assert.are.equal("one", get("/orm/hot").name)
      assert.are.equal("false", get("/orm/fresh").reused_previous)
    end
    -- and the pool fills again.
    assert.is_true(stats().pooled - mid.pooled >= 20)
    assert.are.same({}, server:fatal_lines())
  end)

  it("raises the documented error in the log phase, where release() is harmless", function()
    server:get("/orm_log/x")
    local r
    for _ = 1, 40 do -- the log phase runs after the response went out
      r = get("/orm/log_result")
      if r.result ~= "none" then break end
      require("socket").sleep(0.05)
    end
    assert.are.equal("ok=false name=UnsupportedOperation release=ok", r.result)
  end)
end)
