-- Cluster and Session against the scriptable test server: what a real node
-- will not do on demand. Fake on purpose: Cassandra ignores custom payloads
-- unless a custom query handler is installed on the server, so the echo
-- the driver must decode comes from the test server; and only a fake can
-- be made to refuse every connection after the first.
local test_server = require "test_server"
local Cluster = require("cql.cluster").Cluster

describe("a session against the test server", function()
  after_each(function() test_server.stop_all() end)

  it("sends a custom payload and returns the one the server answers with", function()
    local srv = test_server.start({})
    local cluster = Cluster { contact_points = { "127.0.0.1" }, port = srv.port, compression = false }
    finally(function() cluster:shutdown() end)
    local session = assert(cluster:connect())
    local payload = { tenant = "acme", blob = "\0\1\2\255" }
    local rs = assert(session:execute("SELECT key FROM system.local", nil, { custom_payload = payload }))
    assert.same(payload, rs.custom_payload)
    -- Per statement too, and nothing comes back when nothing was sent.
    local st = require("cql.query").SimpleStatement("SELECT key FROM system.local",
                                                    { custom_payload = { k = "v" } })
    assert.same({ k = "v" }, assert(session:execute(st)).custom_payload)
    assert.is_nil(assert(session:execute("SELECT key FROM system.local")).custom_payload)
  end)

  it("rejects a custom payload that is not a table of strings", function()
    local srv = test_server.start({})
    local cluster = Cluster { contact_points = { "127.0.0.1" }, port = srv.port, compression = false }
    finally(function() cluster:shutdown() end)
    local session = assert(cluster:connect())
    assert.has_error(function()
      session:execute("SELECT key FROM system.local", nil, { custom_payload = { n = 1 } })
    end, "bad option custom_payload (keys and values must be strings, got string = number)")
  end)

  it("discovers the node through the control connection and reports it as the coordinator", function()
    local srv = test_server.start({})
    local cluster = Cluster { contact_points = { "127.0.0.1" }, port = srv.port, compression = false }
    finally(function() cluster:shutdown() end)
    local session = assert(cluster:connect())
    local hosts = cluster:all_hosts()
    assert.equal(1, #hosts)
    assert.equal("127.0.0.1", hosts[1].address)
    assert.is_true(hosts[1].is_up)
    assert.equal("datacenter1", hosts[1].datacenter)
    local rs = assert(session:execute("SELECT key FROM system.local"))
    assert.equal(hosts[1], rs.coordinator)
  end)
  it("takes its nodes from node_list instead of a control connection", function()
    local srv = test_server.start({})
    local cluster = Cluster { port = srv.port, compression = false, node_list = function()
      return { { address = "127.0.0.1", datacenter = "dc9", rack = "r1", tokens = { "0" } } }
    end }
    finally(function() cluster:shutdown() end)
    local session = assert(cluster:connect())
    assert.is_nil(cluster.control)
    local h = cluster:all_hosts()[1]
    assert.equal("dc9", h.datacenter)
    assert.equal(h, assert(session:execute("SELECT key FROM system.local")).coordinator)
    assert.has_error(function() Cluster { node_list = {} } end,
      "bad option node_list (function returning the nodes expected)")
    local _, err = Cluster { node_list = function() error("no list") end }:connect()
    assert.equal("NoHostAvailable", err.name)
    assert.matches("node_list raised an error: .*no list", err.message)
  end)
end)
