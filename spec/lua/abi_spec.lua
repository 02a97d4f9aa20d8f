-- The FFI declarations (lua/cql/cdef.lua) against the compiled layouts
-- (src/core/abi.c): a header change not mirrored in Lua fails here.
local ffi = require "ffi"
local core = require "cql.core"

describe("FFI layouts match the C core", function()
  for _, name in ipairs(core.abi) do
    it(name, function()
      local struct, field = name:match("^([%w_]+)%.([%w_]+)$")
      local c = tonumber(core.C.cq_abi_sizeof(name))
      if struct then
        assert.are.equal(c, ffi.offsetof(struct, field))
      else
        assert.is_true(c > 0, "the C side does not know " .. name)
        assert.are.equal(c, ffi.sizeof(name))
      end
    end)
  end

  local transport = require "cql.cdef_transport"
  local function check(name, sizeof)
    local struct, field = name:match("^([%w_]+)%.([%w_]+)$")
    local c = tonumber(sizeof(name))
    if struct then
      assert.are.equal(c, ffi.offsetof(struct, field))
    else
      assert.is_true(c > 0, "the C side does not know " .. name)
      assert.are.equal(c, ffi.sizeof(name))
    end
  end
  for _, name in ipairs(transport.abi) do
    it(name .. " (messages and connections)", function() check(name, core.C.cq_abi_sizeof) end)
  end
  for _, name in ipairs(transport.transport_abi) do
    it(name .. " (transport)", function() check(name, core.C.cqlua_transport_abi_sizeof) end)
  end

  -- The test server declares the frame and segment codec structs by hand.
  require "test_server_cdef"
  for _, name in ipairs { "cq_lz4_ctx", "cq_frame_writer", "cq_frame_writer.scratch",
                          "cq_frame_writer.lz4s", "cq_frame_reader", "cq_frame_reader.in",
                          "cq_frame_reader.plain", "cq_frame_reader.msg", "cq_segment_encoder",
                          "cq_segment_encoder.lz4s", "cq_segment_decoder", "cq_segment_decoder.large",
                          "cq_segment_decoder.msg" } do
    it(name .. " (test server)", function() check(name, core.C.cq_abi_sizeof) end)
  end

  it("answers 0 for an unknown name", function()
    assert.are.equal(0, tonumber(core.C.cq_abi_sizeof("no_such_struct")))
  end)

  it("keeps a cell at 32 bytes", function()
    assert.are.equal(32, ffi.sizeof("cq_cell"))
  end)
end)
