--- Loads the C core (libcqlua) through the LuaJIT FFI.
-- Inside the `cqlua` runner the symbols are already in the process
-- (`ffi.C`); elsewhere the library is found, in order, through the
-- `CQLUA_LIB` environment variable, next to the Lua modules on
-- `package.cpath` (as the rock installs it), and by the system's loader.
-- @module cql.core
local ffi = require "ffi"
local cdef = require "cql.cdef"

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

local cq_arena_t = ffi.typeof("cq_arena")
local cq_buf_t = ffi.typeof("cq_buf")
local cq_cells_t = ffi.typeof("cq_cells")

local function free_arena(a) C.cq_arena_free(a) end
local function free_buf(b) C.cq_buf_free(b) end
local function free_cells(c) C.cq_cells_free(c) end

return {
  --- The FFI namespace holding the C functions.
  C = C,
  --- Where the library was loaded from (a path, "runner" or "libcqlua").
  origin = origin,
  --- Names `cq_abi_sizeof` answers for (see `cql.cdef`).
  abi = cdef.abi,
  --- A new arena owned by the returned cdata (freed by the GC).
  -- @tparam[opt] number chunk_size bytes per chunk (0: the C default)
  new_arena = function(chunk_size)
    local a = ffi.gc(cq_arena_t(), free_arena)
    C.cq_arena_init(a, chunk_size or 0)
    return a
  end,
  --- A new growable byte buffer owned by the returned cdata.
  new_buf = function()
    return ffi.gc(cq_buf_t(), free_buf)
  end,
  --- A new growable cell array owned by the returned cdata.
  new_cells = function()
    return ffi.gc(cq_cells_t(), free_cells)
  end,
}
