-- The quickstart, run by `make demo` with the cqlua runner:
--   build/cqlua examples/quickstart.lua
--
-- Foundation stage: the driver's Cluster/Session API arrives with issue 4,
-- and this file then becomes the seed's quickstart (auth, keyspace, table,
-- parameterised insert, select, shutdown). Until then it shows what the
-- build delivers: the runner, the C core loaded through the FFI, and a real
-- server reached through the dev probe in scripts/lib (not the driver).
package.path = "scripts/lib/?.lua;" .. package.path
local cql = require "cql"
local probe = require "cqlprobe"

local host = (os.getenv("CQLUA_HOSTS") or "127.0.0.1"):match("[^,]+")
print(("cqlua %s (C core loaded from: %s)"):format(cql.version, require("cql.core").origin))

local conn = probe.connect { host = host, user = os.getenv("CQLUA_USER"),
                             password = os.getenv("CQLUA_PASSWORD") }
local rows = conn:query("SELECT release_version, cluster_name, data_center FROM system.local")
local row = rows[1]
print(("connected to %s: Cassandra %s, cluster %q, data center %s"):format(host, row[1], row[2], row[3]))
conn:close()
