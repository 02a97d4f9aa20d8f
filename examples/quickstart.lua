-- The seed's quickstart in Lua. `make demo` runs it with the runner:
--   build/cqlua examples/quickstart.lua
-- CQLUA_HOSTS (comma-separated) picks the contact points; CQLUA_USER and
-- CQLUA_PASSWORD turn on username/password authentication.
local cql = require "cql"
local Cluster = require("cql.cluster").Cluster
local PlainTextAuthProvider = require("cql.auth").PlainTextAuthProvider
local util = require "cql.util"

local contact_points = {}
for host in (os.getenv("CQLUA_HOSTS") or "127.0.0.1"):gmatch("[^,%s]+") do
  contact_points[#contact_points + 1] = host
end
local auth_provider
if os.getenv("CQLUA_USER") then
  auth_provider = PlainTextAuthProvider(os.getenv("CQLUA_USER"), os.getenv("CQLUA_PASSWORD") or "")
end

-- Create the cluster connection.
local cluster = Cluster { contact_points = contact_points, auth_provider = auth_provider }
local session = assert(cluster:connect())
print(("cqlua %s connected to %s"):format(cql.version, contact_points[1]))

-- Create a keyspace and a table.
assert(session:execute([[
  CREATE KEYSPACE IF NOT EXISTS demo
  WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}
]]))
assert(session:set_keyspace("demo"))
assert(session:execute([[
  CREATE TABLE IF NOT EXISTS users (
    id UUID PRIMARY KEY,
    name TEXT,
    age INT
  )
]]))

-- Insert data; the parameters are encoded client-side, safely quoted.
assert(session:execute("INSERT INTO users (id, name, age) VALUES (%s, %s, %s)",
                       { util.uuid4(), "Alice", 30 }))

-- Query data.
local rows = assert(session:execute("SELECT * FROM users"))
for row in rows:rows() do
  print(("User: %s, Age: %d"):format(row.name, row.age))
end

-- Clean up.
cluster:shutdown()
