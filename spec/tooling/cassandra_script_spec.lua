-- scripts/cassandra in bad situations: clear messages, nothing harmed.
-- These use their own cluster names and the 127.0.9.x addresses so they
-- never touch a cluster the developer or the other suites are using.
local socket = require "socket"
local testenv = require "testenv"
local run, q = testenv.run, testenv.q

local function cassandra(args, env)
  return run((env or "") .. " scripts/cassandra " .. args)
end

describe("scripts/cassandra", function()
  it("refuses a port held by a process it did not start, and leaves that process alone", function()
    local server = assert(socket.bind("127.0.9.1", 9042))
    local rc, out = cassandra("--cluster spec-port up --prefix 127.0.9.")
    -- The foreign listener still accepts connections.
    local client = socket.tcp()
    client:settimeout(2)
    local connected = client:connect("127.0.9.1", 9042)
    client:close()
    server:close()
    cassandra("--cluster spec-port down")
    assert.equal(1, rc, out)
    assert.truthy(out:find("port 127.0.9.1:9042 is already in use by process", 1, true), out)
    assert.truthy(out:find("not touching it", 1, true), out)
    assert.truthy(connected, "the foreign listener was harmed")
  end)

  it("prints the end of the log and fails when a node cannot start", function()
    -- A 10 MiB heap is too small for Cassandra: the JVM exits during start-up.
    local rc, out = cassandra("--cluster spec-oom up --prefix 127.0.9. --heap 10m --timeout 120")
    local _, status = cassandra("--cluster spec-oom status")
    cassandra("--cluster spec-oom down")
    assert.equal(1, rc, out)
    assert.truthy(out:find("last lines of", 1, true), out)
    assert.truthy(out:find("OutOfMemoryError", 1, true), out)
    assert.truthy(out:find("exited during start-up", 1, true), out)
    assert.matches("node1 +127%.0%.9%.1 .* DOWN", status)
  end)

  it("names the missing artifact when Maven cannot reach the repository", function()
    -- Stand-in for an unreachable Maven Central: offline mode with an empty
    -- local repository fails exactly as a network outage does, on demand.
    local dir = testenv.tmpdir()
    local rc, out = cassandra("fetch", ("CQLUA_CACHE=%s CQLUA_MAVEN_ARGS=%s"):format(
      q(dir .. "/cache"), q("-o -Dmaven.repo.local=" .. dir .. "/m2")))
    testenv.rm(dir)
    assert.equal(1, rc, out)
    assert.truthy(out:find("Maven could not resolve Cassandra", 1, true), out)
    assert.matches("missing: [^\n]*[%w%.%-]+:[%w%.%-]+:jar:[%w%.%-]+", out)
  end)

  it("names the artifact when the version does not exist", function()
    local dir = testenv.tmpdir()
    local rc, out = cassandra("fetch", ("CQLUA_CACHE=%s CQLUA_CASSANDRA_VERSION=5.0.999"):format(q(dir)))
    testenv.rm(dir)
    assert.equal(1, rc, out)
    assert.truthy(out:find("org.apache.cassandra:cassandra-all:jar:5.0.999", 1, true), out)
  end)

  it("rejects addresses outside loopback and oversized heaps", function()
    local rc, out = cassandra("--cluster spec-args up --prefix 10.0.0.")
    assert.equal(1, rc)
    assert.truthy(out:find("loopback only", 1, true), out)
    rc, out = cassandra("--cluster spec-args up --heap 4g")
    assert.equal(1, rc)
    assert.truthy(out:find("--heap must be between", 1, true), out)
  end)
end)
