--- Loads the C core (libcqlua) through the LuaJIT FFI.
-- Inside the `cqlua` runner the symbols are already in the process
-- (`ffi.C`); elsewhere the library is found, in order, through the
-- `CQLUA_LIB` environment variable, next to the Lua modules on
-- `package.cpath` (as the rock installs it), and by the system's loader.
-- @module cql.core
local ffi = require "ffi"

ffi.cdef [[
const char *cqlua_version(void);
]]

local function load()
  if rawget(_G, "_CQLUA_RUNNER") then return ffi.C, "runner" end
  local tried = {}
  local explicit = os.getenv("CQLUA_LIB")
  if explicit and explicit ~= "" then
    local ok, lib = pcall(ffi.load, explicit)
    if ok then return lib, explicit end
    tried[#tried + 1] = explicit .. ": " .. tostring(lib)
  end
  local beside = package.searchpath("cql.libcqlua", package.cpath)
  if beside then
    local ok, lib = pcall(ffi.load, beside)
    if ok then return lib, beside end
    tried[#tried + 1] = beside .. ": " .. tostring(lib)
  end
  local ok, lib = pcall(ffi.load, "cqlua")
  if ok then return lib, "libcqlua" end
  tried[#tried + 1] = "libcqlua: " .. tostring(lib)
  error("cql.core: cannot load the C library libcqlua (set CQLUA_LIB to its path); tried:\n  "
        .. table.concat(tried, "\n  "), 2)
end

local C, origin = load()

return {
  --- The FFI namespace holding the C functions.
  C = C,
  --- Where the library was loaded from (a path, "runner" or "libcqlua").
  origin = origin,
}
