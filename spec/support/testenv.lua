--- Helpers shared by the specs: where things are, and running commands.
local testenv = {}

--- The repository root (specs run from it; busted's cwd).
testenv.root = os.getenv("PWD") or "."

--- Runs a shell command; returns its exit status and combined output.
function testenv.run(cmd)
  local f = assert(io.popen("( " .. cmd .. " ) 2>&1; echo \"__rc=$?\""))
  local out = f:read("*a")
  f:close()
  local rc = tonumber(out:match("__rc=(%d+)%s*$"))
  return rc, (out:gsub("__rc=%d+%s*$", ""))
end

--- The contents of a file, or nil when it cannot be read.
function testenv.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

--- Quotes a string for the shell.
function testenv.q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- Splits a comma-separated list.
function testenv.split(s)
  local out = {}
  for part in (s or ""):gmatch("[^,%s]+") do out[#out + 1] = part end
  return out
end

--- The integration cluster's addresses (CQLUA_TEST_HOSTS, default local).
function testenv.hosts()
  local hosts = testenv.split(os.getenv("CQLUA_TEST_HOSTS"))
  if #hosts == 0 then hosts = { "127.0.0.1" } end
  return hosts
end

--- Connection options for the dev probe from the test environment.
function testenv.probe_opts(host)
  local opts = { host = host or testenv.hosts()[1], timeout = 10,
                 user = os.getenv("CQLUA_TEST_USER"), password = os.getenv("CQLUA_TEST_PASSWORD") }
  local ca = os.getenv("CQLUA_TEST_TLS_CA")
  if ca then opts.tls = { cafile = ca } end
  return opts
end

--- A fresh temporary directory (removed by the caller with testenv.rm).
function testenv.tmpdir()
  local rc, out = testenv.run("mktemp -d")
  assert(rc == 0, out)
  return (out:gsub("%s+$", ""))
end

function testenv.rm(path)
  assert(path:match("^/tmp/"), "refusing to remove " .. path)
  testenv.run("rm -rf " .. testenv.q(path))
end

--- The build directory's runner binary.
testenv.runner = os.getenv("CQLUA_RUNNER_BIN") or (testenv.root .. "/build/cqlua")

--- A cluster's hosts by address.
function testenv.hosts_by_address(cluster)
  local out = {}
  for _, h in ipairs(cluster:all_hosts()) do out[h.address] = h end
  return out
end

--- Waits (up to `limit` seconds, running the driver's loop) until `cond()`
-- holds; returns the seconds it took, or nil.
function testenv.wait_until(limit, cond)
  local runtime = require "cql.runtime"
  local t0 = runtime.scheduler().host:now()
  while not cond() do
    if runtime.scheduler().host:now() - t0 > limit then return nil end
    runtime.sleep(0.05)
  end
  return runtime.scheduler().host:now() - t0
end

--- Waits (up to `limit` seconds, 30 by default) until the node `session`
-- asks has built index `name` of keyspace `ks` (system."IndexInfo" lists
-- it): a query through an index still being built fails with
-- ReadFailure. Raises when it is not built in time. Node-local: meant
-- for the single-node integration cluster.
function testenv.wait_index_built(session, ks, name, limit)
  local built = testenv.wait_until(limit or 30, function()
    local rs = session:execute('SELECT index_name FROM system."IndexInfo" WHERE table_name = %s AND index_name = %s',
                               { ks, name })
    return rs ~= nil and rs.current_rows[1] ~= nil
  end)
  if not built then error(("index %s.%s was not built within %d s"):format(ks, name, limit or 30), 2) end
end

return testenv
