-- The top-level module: loading the C core and the seed's constants.
describe("cql", function()
  local cql = require "cql"

  it("reports the version the build was configured with", function()
    local cmake = assert(io.open("CMakeLists.txt")):read("*a")
    local want = cmake:match("project%(cqlua VERSION ([%d%.]+)")
    assert.is_string(want)
    assert.equal(want, cql.version)
  end)

  it("loads the C core through the FFI from the library named by CQLUA_LIB", function()
    local origin = require("cql.core").origin
    assert.equal(os.getenv("CQLUA_LIB"), origin)
  end)

  it("names every consistency level with its protocol code", function()
    -- Codes from section 3 ([consistency]) of the native protocol spec.
    local want = { ANY = 0, ONE = 1, TWO = 2, THREE = 3, QUORUM = 4, ALL = 5, LOCAL_QUORUM = 6,
                   EACH_QUORUM = 7, SERIAL = 8, LOCAL_SERIAL = 9, LOCAL_ONE = 10 }
    for name, code in pairs(want) do
      assert.equal(code, cql.ConsistencyLevel[name])
      assert.equal(name, cql.ConsistencyLevel.value_to_name[code])
      assert.equal(code, cql.ConsistencyLevel.name_to_value[name])
    end
  end)
end)
