--- Cassandra's Murmur3Partitioner token of a routing key.
-- The hash runs in the C core (verified against a real server, including
-- Cassandra's sign-extension of tail bytes); the token is int64 cdata.
-- @module cql.murmur3
local ffi = require "ffi"
local core = require "cql.core"

local C = core.C

local M = {}

--- The token of `key` (the serialized partition key bytes), as int64 cdata.
-- The empty key gets the minimum token, -2^63.
-- @tparam string key
-- @treturn cdata int64
function M.murmur3(key)
  if type(key) ~= "string" then
    error("bad argument #1 to 'murmur3' (string expected, got " .. type(key) .. ")", 2)
  end
  return C.cq_murmur3_token(key, #key)
end

local scratch = core.new_buf()

--- The routing key of a partition key from its serialized components: one
-- component as is, several in the CompositeType layout.
-- @tparam {string,...} parts
-- @treturn string
function M.routing_key(parts)
  local n = #parts
  if n == 0 then error("bad argument #1 to 'routing_key' (at least one component expected)", 2) end
  if n == 1 then return parts[1] end
  local ptrs = ffi.new("const uint8_t *[?]", n)
  local lens = ffi.new("size_t[?]", n)
  for i = 1, n do
    ptrs[i - 1] = parts[i]
    lens[i - 1] = #parts[i]
  end
  C.cq_buf_reset(scratch)
  local rc = C.cq_routing_key(scratch, ptrs, lens, n)
  if rc < 0 then
    error("routing_key: " .. ffi.string(C.cq_status_name(rc)) .. " (a component over 65535 bytes?)", 2)
  end
  return ffi.string(scratch.data, scratch.len)
end

return M
