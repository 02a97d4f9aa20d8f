-- Client-side parameters (`%s`, `%(name)s`): the literal of every kind of
-- Lua value, safety against injection, and misuse.
local encoder = require "cql.encoder"
local util = require "cql.util"

local bind = encoder.bind_params

describe("client-side parameters", function()
  it("writes the literal of every kind of value", function()
    assert.equal("NULL, 'it''s', true, 42, -0.5, NaN, Infinity, -Infinity, -9223372036854775808",
      bind("%s, %s, %s, %s, %s, %s, %s, %s, %s", { n = 9, nil, "it's", true, 42, -0.5, 0 / 0, math.huge,
                                                  -math.huge, -9223372036854775807LL - 1 }))
    local id = "01234567-89ab-cdef-0123-456789abcdef"
    assert.equal(id, bind("%s", { util.UUID(id) }))
    assert.equal("'2024-02-29', '01:02:03.000000004'", bind("%s, %s", { util.Date("2024-02-29"),
                                                                        util.Time("01:02:03.000000004") }))
    assert.equal("-1.50, 12345678901234567890", bind("%s, %s", { util.Decimal("-1.50"),
                                                               util.Varint("12345678901234567890") }))
    assert.equal("[1, 2, 3]", bind("%s", { { 1, 2, 3 } }))
    assert.equal("{'a', 'b'}", bind("%s", { util.SortedSet { "b", "a" } }))
    assert.equal("{'a': 1, 'b': 2}", bind("%s", { { b = 2, a = 1 } }))
    assert.equal("{2: 'x', 1: 'y'}", bind("%s", { util.OrderedMap { { 2, "x" }, { 1, "y" } } }))
  end)

  it("marks tuples, user types and blobs, which have literals of their own", function()
    assert.equal("(1, 'a', NULL)", bind("%s", { util.Tuple(1, "a", nil) }))
    assert.equal([[{"Mixed": 2, label: 'p', x: 1.5}]],
      bind("%s", { util.UserType { x = 1.5, label = "p", Mixed = 2 } }))
    assert.equal("0x0001ff41", bind("%s", { util.Blob("\0\1\255A") }))
    assert.equal("[(1, ['a'])]", bind("%s", { { util.Tuple(1, { "a" }) } }))
    assert.has_error(function() util.UserType { [1] = 2 } end,
      "bad argument #1 to 'UserType' (field names must be strings)")
    assert.has_error(function() util.Blob(1) end, "bad argument #1 to 'Blob' (string expected)")
  end)

  it("keeps a string parameter inside its literal, whatever it holds", function()
    local evil = "x'); DROP TABLE users; --"
    assert.equal("SELECT * FROM t WHERE k = 'x''); DROP TABLE users; --'",
      bind("SELECT * FROM t WHERE k = %s", { evil }))
  end)

  it("binds by name, and keeps %% as a percent sign", function()
    assert.equal("k = 'v' AND n = 3 AND p LIKE 'a%'",
      bind("k = %(key)s AND n = %(n)s AND p LIKE 'a%%'", { key = "v", n = 3 }))
  end)

  it("names what is wrong on misuse", function()
    assert.has_error(function() bind("%s %s", { 1 }) end,
      "the query has more %s markers than the 1 parameter(s) given")
    assert.has_error(function() bind("%s", { 1, 2 }) end, "the query has 1 %s marker(s) but 2 parameter(s) were given")
    assert.has_error(function() bind("%(a)s", { b = 1 }) end, "no parameter named 'a' for %(a)s")
    assert.has_error(function() bind("%s %(a)s", { 1, a = 2 }) end, "the query mixes %s and %(name)s markers")
    assert.has_error(function() bind("%d", { 1 }) end, "'%' at position 1 starts no marker (use %% for a literal %)")
    assert.has_error(function() bind("%s", { function() end }) end)
    assert.has_error(function() bind("%s", 1) end, "parameters must be a table (an array for %s, names for %(name)s)")
  end)
end)
