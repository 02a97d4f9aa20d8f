-- cql.murmur3: tokens for the vectors of spec/c/test_murmur3.c.
local murmur3 = require "cql.murmur3"

describe("murmur3", function()
  local vectors = {
    { "123", -7468325962851647638LL },
    { "\xfe\xfe\xfe\xfe\xfe\xfe\xfe\xfe", -8927430733708461935LL },
    { "\x10\x10\x10\x10\x10\x10\x10\x10", 1446172840243228796LL },
    { "9223372036854775807", 7162290910810015547LL },
    { "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10", -5563837382979743776LL },
    { "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 5457549051747178710LL },
    { "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", -2824192546314762522LL },
    { "\x00\x01\x02\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 6463632673159404390LL },
    { "\xfe\xfe\xfe\xfe", 4566408979886474012LL },
    { "\x00\x00\x00\x00", -3485513579396041028LL },
    { "\x00\x01\x7f\x7f", 6573459401642635627LL },
    { "\x00\xff\xff\xff", 123573637386978882LL },
    { "\xff\x01\x02\x03", -2839127690952877842LL },
    { "\xe2\xe7", -8582699461035929883LL },
    { "\xe2\xe7\xe2\xe7\xe2\xe7\x01", 2222373981930033306LL },
    { string.rep("\x00\xff\x10\xfa\x99", 10), 5837342703291459765LL },
  }
  for i, v in ipairs(vectors) do
    it("vector " .. i, function()
      local t = murmur3.murmur3(v[1])
      assert.is_true(require("ffi").istype("int64_t", t))
      assert.are.equal(v[2], t)
    end)
  end

  it("gives the empty key the minimum token", function()
    assert.are.equal(-9223372036854775807LL - 1, murmur3.murmur3(""))
  end)

  it("builds composite routing keys", function()
    assert.are.equal("abc", murmur3.routing_key({ "abc" }))
    assert.are.equal("\0\4\0\0\0\1\0" .. "\0\3abc\0" .. "\0\0\0", murmur3.routing_key({ "\0\0\0\1", "abc", "" }))
  end)

  it("rejects a non-string key", function()
    assert.has_error(function() murmur3.murmur3(5) end)
  end)
end)
