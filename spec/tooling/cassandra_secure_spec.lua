-- scripts/cassandra up --auth --tls --udf: the options really take effect.
-- Runs its own one-node cluster on 127.0.9.1 and removes it afterwards.
local testenv = require "testenv"
local probe = require "cqlprobe"

local CLUSTER = "spec-secure"
local HOST = "127.0.9.1"

local function cassandra(args)
  return testenv.run("scripts/cassandra --cluster " .. CLUSTER .. " " .. args)
end

describe("a cluster started with --auth --tls --udf", function()
  local env = {}

  setup(function()
    local rc, out = cassandra("up --auth --tls --udf --prefix 127.0.9.")
    assert.equal(0, rc, out)
    local _, exports = cassandra("env")
    for k, v in exports:gmatch("(CQLUA_[%w_]+)=(%S+)") do env[k] = v end
  end)
  teardown(function() cassandra("down") end)

  local function connect(overrides)
    local opts = { host = HOST, timeout = 10, user = "cassandra", password = "cassandra",
                   tls = { cafile = env.CQLUA_TEST_TLS_CA } }
    for k, v in pairs(overrides or {}) do opts[k] = v ~= false and v or nil end
    return probe.connect(opts)
  end

  it("exports the credentials and the CA for the tests", function()
    assert.equal("cassandra", env.CQLUA_TEST_USER)
    assert.equal(HOST, env.CQLUA_TEST_HOSTS)
    assert.truthy(env.CQLUA_TEST_TLS_CA:match("/tls/ca%.pem$"))
  end)

  it("accepts TLS verified against the generated CA with the default superuser", function()
    local c = connect()
    local rows = c:query("SELECT role, is_superuser FROM system_auth.roles WHERE role = 'cassandra'")
    c:close()
    assert.same({ { "cassandra", true } }, rows)
  end)

  it("refuses a client that trusts another CA", function()
    assert.has_error(function() connect { tls = { cafile = env.CQLUA_TEST_TLS_OTHER_CA } } end,
      "cqlprobe: TLS handshake with " .. HOST .. ":9042 failed: certificate verify failed")
  end)

  it("refuses plaintext on the CQL port", function()
    assert.has_error(function() connect { tls = false } end)
  end)

  it("requires credentials and rejects a wrong password", function()
    assert.has_error(function() connect { user = false } end,
      "cqlprobe: " .. HOST .. ":9042 requires authentication")
    local ok, err = pcall(connect, { password = "wrong" })
    assert.is_false(ok)
    assert.equal(0x0100, err.code) -- BAD_CREDENTIALS
  end)

  it("serves the C transport's TLS and SASL tests (spec/c/itest_tls.c)", function()
    local bin = testenv.root .. "/" .. (os.getenv("CQLUA_BUILD_DIR") or "build") .. "/itest_tls"
    local rc, out = testenv.run(("CQLUA_TEST_TLS_HOST=%s CQLUA_TEST_TLS_CA=%s CQLUA_TEST_TLS_OTHER_CA=%s %s")
      :format(HOST, testenv.q(env.CQLUA_TEST_TLS_CA), testenv.q(env.CQLUA_TEST_TLS_OTHER_CA), testenv.q(bin)))
    assert.equal(0, rc, out)
    assert.matches("itest_tls%.c: 6 passed, 0 failed\n$", out)
  end)

  describe("through cql.cluster", function()
    local Cluster = require("cql.cluster").Cluster
    local PlainTextAuthProvider = require("cql.auth").PlainTextAuthProvider
    local function cluster(password, ssl)
      return Cluster { contact_points = { HOST }, auth_provider = PlainTextAuthProvider("cassandra", password),
                       ssl_options = ssl, connect_timeout = 10 }
    end

    it("connects with verified TLS and the right password", function()
      local c = cluster("cassandra", { ca_file = env.CQLUA_TEST_TLS_CA })
      local s = assert(c:connect())
      local row = assert(s:execute("SELECT role FROM system_auth.roles WHERE role = 'cassandra'")):one()
      assert.equal("cassandra", row.role)
      c:shutdown()
    end)

    it("reports a wrong password as AuthenticationFailed inside NoHostAvailable", function()
      local c = cluster("wrong", { ca_file = env.CQLUA_TEST_TLS_CA })
      local s, err = c:connect()
      assert.is_nil(s)
      assert.equal("NoHostAvailable", err.name)
      local cause = err.errors[HOST]
      assert.equal("AuthenticationFailed", cause.name)
      assert.matches("incorrect", cause.message)
      c:shutdown()
    end)

    it("refuses a server whose certificate it cannot verify, and plaintext to a TLS port", function()
      local c = cluster("cassandra", { ca_file = env.CQLUA_TEST_TLS_OTHER_CA })
      local _, err = c:connect()
      assert.equal("NoHostAvailable", err.name)
      assert.matches("certificate verify failed", err.errors[HOST].message)
      c:shutdown()
      c = cluster("cassandra", nil)
      _, err = c:connect()
      assert.equal("NoHostAvailable", err.name)
      c:shutdown()
    end)

    it("names a CA file that does not exist", function()
      local ok, err = pcall(cluster, "x", { ca_file = "/nonexistent/ca.pem" })
      assert.is_false(ok)
      assert.matches("bad option ssl_options %(cannot load the CA file /nonexistent/ca%.pem: ", err)
    end)
  end)

  it("runs user-defined functions", function()
    local c = connect()
    c:query("CREATE KEYSPACE IF NOT EXISTS udf WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
    c:query("CREATE OR REPLACE FUNCTION udf.plus1 (x int) RETURNS NULL ON NULL INPUT RETURNS int "
      .. "LANGUAGE java AS 'return x + 1;'")
    local rows = c:query("SELECT udf.plus1(41) FROM system.local")
    c:close()
    assert.same({ { 42 } }, rows)
  end)
end)
