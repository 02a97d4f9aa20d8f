-- Cluster settings for examples/c_quickstart.c: a Lua file returning the
-- options of cql.cluster.Cluster (contact points, port, authentication,
-- TLS, timeouts, and policies as Lua objects). The C program loads it with
-- cqlua_cluster_load_config; it runs in the cluster's own Lua state, so it
-- may require the driver's modules.
--
-- CQLUA_HOSTS (comma-separated), CQLUA_PORT, CQLUA_USER / CQLUA_PASSWORD
-- and CQLUA_TLS_CA (a CA file: TLS on, verified) override the defaults.
local function env(name)
  local v = os.getenv(name)
  if v ~= nil and v ~= "" then return v end
  return nil
end

local contact_points = {}
for host in (env("CQLUA_HOSTS") or "127.0.0.1"):gmatch("[^,%s]+") do
  contact_points[#contact_points + 1] = host
end

local policies = require "cql.policies"

local auth_provider
if env("CQLUA_USER") then
  auth_provider = require("cql.auth").PlainTextAuthProvider(env("CQLUA_USER"), env("CQLUA_PASSWORD") or "")
end

return {
  contact_points = contact_points,
  port = tonumber(env("CQLUA_PORT") or "9042"),
  auth_provider = auth_provider,
  ssl_options = env("CQLUA_TLS_CA") and { ca_file = env("CQLUA_TLS_CA") } or nil,
  connect_timeout = 5,
  -- Policies are Lua objects: the driver's, or your own with the same methods.
  load_balancing_policy = policies.RoundRobinPolicy(),
  reconnection_policy = policies.ExponentialReconnectionPolicy(1, 60),
}
