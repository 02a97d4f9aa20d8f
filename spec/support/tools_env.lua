--- Helpers for the operations tools specs: running the cqlua runner
-- against the integration cluster, and a checksum over a table's rows.
local testenv = require "testenv"

local M = {}

M.bin = testenv.runner

--- The runner command with the test cluster's connection flags.
function M.cmd(args)
  local hosts = table.concat(testenv.hosts(), ",")
  local env = "CQLUA_HOSTS=" .. testenv.q(hosts)
  local user, pw = os.getenv("CQLUA_TEST_USER"), os.getenv("CQLUA_TEST_PASSWORD")
  if user and user ~= "" then env = env .. " CQLUA_USER=" .. testenv.q(user) end
  if pw and pw ~= "" then env = env .. " CQLUA_PASSWORD=" .. testenv.q(pw) end
  return env .. " " .. testenv.q(M.bin) .. " " .. args
end

--- Runs the runner; returns status, stdout, stderr.
function M.run(args, stdin)
  local dir = testenv.tmpdir()
  local cmd = M.cmd(args) .. " >" .. dir .. "/out 2>" .. dir .. "/err"
  if stdin then
    local f = assert(io.open(dir .. "/in", "w"))
    f:write(stdin)
    f:close()
    cmd = cmd .. " <" .. dir .. "/in"
  else
    cmd = cmd .. " </dev/null"
  end
  local rc = testenv.run("timeout 300 sh -c " .. testenv.q(cmd))
  local function slurp(n)
    local f = io.open(dir .. "/" .. n)
    local s = f and f:read("*a") or ""
    if f then f:close() end
    return s
  end
  local out, err = slurp("out"), slurp("err")
  testenv.rm(dir)
  return rc, out, err
end

M.read = testenv.read_file

--- A checksum over every row of a table (order-independent): each row's
-- values as JSON in column order, lines sorted, hashed. Returns the
-- checksum and the row count.
function M.checksum(session, ks, t)
  local format = require "cql.tools.format"
  local query = require "cql.query"
  local saved = session.row_factory
  session.row_factory = query.tuple_factory
  local rs = assert(session:execute(("SELECT * FROM %s.%s"):format(ks, t), nil, { fetch_size = 5000 }))
  local types = rs.column_types
  local lines = {}
  for row, err in rs:rows() do
    assert(row, err)
    local parts = {}
    for i = 1, #types do parts[i] = format.json(row[i], types[i]) end
    lines[#lines + 1] = table.concat(parts, ",")
  end
  session.row_factory = saved
  table.sort(lines)
  local h = require("cql.murmur3").murmur3(table.concat(lines, "\n"))
  return tostring(h), #lines
end

return M
